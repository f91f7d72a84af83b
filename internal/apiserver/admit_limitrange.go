package apiserver

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// The LimitRanger admission plugin, as upstream's: a pod's containers get
// the default requests and limits of the namespace's LimitRanges
// (type Container) where they state none, recorded in the annotation
// kubernetes.io/limit-ranger; then containers, the pod as a whole and
// PersistentVolumeClaims are checked against min, max and
// maxLimitRequestRatio with upstream's messages (403).

const limitRangerAnnotation = "kubernetes.io/limit-ranger"

var limitRangesGVR = gvr("", "v1", "limitranges")

func (s *Server) limitRanges(ctx context.Context, ns string) ([]*corev1.LimitRange, error) {
	objs, err := s.listStored(ctx, limitRangesGVR, ns)
	if err != nil {
		return nil, fmt.Errorf("limit ranges of %s: %w", ns, err)
	}
	out := make([]*corev1.LimitRange, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.LimitRange))
	}
	return out, nil
}

func (s *Server) admitPodLimits(ctx context.Context, c *call, pod *corev1.Pod) error {
	ranges, err := s.limitRanges(ctx, pod.Namespace)
	if err != nil || len(ranges) == 0 {
		return err
	}
	var errs []error
	for _, lr := range ranges {
		defaultPodResources(pod, lr)
	}
	for _, lr := range ranges {
		errs = append(errs, validatePodLimits(pod, lr)...)
	}
	if len(errs) > 0 {
		return c.forbidden(pod, utilerrors.NewAggregate(errs))
	}
	return nil
}

// defaultPodResources fills missing container requests and limits from
// the range's Container defaults.
func defaultPodResources(pod *corev1.Pod, lr *corev1.LimitRange) {
	def := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, it := range lr.Spec.Limits {
		if it.Type != corev1.LimitTypeContainer {
			continue
		}
		for k, v := range it.DefaultRequest {
			def.Requests[k] = v.DeepCopy()
		}
		for k, v := range it.Default {
			def.Limits[k] = v.DeepCopy()
		}
	}
	if len(def.Requests) == 0 && len(def.Limits) == 0 {
		return
	}
	var notes []string
	for i := range pod.Spec.Containers {
		notes = mergeContainerDefaults(&pod.Spec.Containers[i], def, "container", notes)
	}
	for i := range pod.Spec.InitContainers {
		notes = mergeContainerDefaults(&pod.Spec.InitContainers[i], def, "init container", notes)
	}
	if len(notes) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
	}
}

func mergeContainerDefaults(c *corev1.Container, def corev1.ResourceRequirements, what string, notes []string) []string {
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	fill := func(into, from corev1.ResourceList) []string {
		var set []string
		for k, v := range from {
			if _, ok := into[k]; !ok {
				into[k] = v.DeepCopy()
				set = append(set, string(k))
			}
		}
		sort.Strings(set)
		return set
	}
	if set := fill(c.Resources.Requests, def.Requests); len(set) > 0 {
		notes = append(notes, strings.Join(set, ", ")+" request for "+what+" "+c.Name)
	}
	if set := fill(c.Resources.Limits, def.Limits); len(set) > 0 {
		notes = append(notes, strings.Join(set, ", ")+" limit for "+what+" "+c.Name)
	}
	return notes
}

// validatePodLimits checks containers and the pod against one range.
func validatePodLimits(pod *corev1.Pod, lr *corev1.LimitRange) []error {
	var errs []error
	for _, it := range lr.Spec.Limits {
		switch it.Type {
		case corev1.LimitTypeContainer:
			for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
				for _, c := range list {
					errs = append(errs, checkItem(it, c.Resources.Requests, c.Resources.Limits)...)
				}
			}
		case corev1.LimitTypePod:
			req, lim := podTotals(pod)
			errs = append(errs, checkItem(it, req, lim)...)
		}
	}
	return errs
}

// podTotals sums the regular containers and takes the larger of that and
// each init container, per resource.
func podTotals(pod *corev1.Pod) (req, lim corev1.ResourceList) {
	req, lim = corev1.ResourceList{}, corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		addList(req, c.Resources.Requests)
		addList(lim, c.Resources.Limits)
	}
	for _, c := range pod.Spec.InitContainers {
		maxList(req, c.Resources.Requests)
		maxList(lim, c.Resources.Limits)
	}
	return req, lim
}

func addList(into, from corev1.ResourceList) {
	for k, v := range from {
		q := into[k]
		q.Add(v)
		into[k] = q
	}
}

func maxList(into, from corev1.ResourceList) {
	for k, v := range from {
		if q, ok := into[k]; !ok || v.Cmp(q) > 0 {
			into[k] = v.DeepCopy()
		}
	}
}

// checkItem applies one LimitRangeItem's min, max and ratio.
func checkItem(it corev1.LimitRangeItem, req, lim corev1.ResourceList) []error {
	var errs []error
	kind := string(it.Type)
	for k, v := range it.Min {
		if err := minConstraint(kind, string(k), v, req, lim); err != nil {
			errs = append(errs, err)
		}
	}
	for k, v := range it.Max {
		if err := maxConstraint(kind, string(k), v, req, lim); err != nil {
			errs = append(errs, err)
		}
	}
	for k, v := range it.MaxLimitRequestRatio {
		if err := ratioConstraint(kind, string(k), v, req, lim); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// observed compares in milli-units when nothing overflows, as upstream.
func observed(req, lim, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := req.Value(), lim.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(kind, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, e := observed(req, lim, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, kind, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	case hasLim && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, kind, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(kind, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, e := observed(req, lim, enforced)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, kind, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, kind, enforced.String(), lim.String())
	case hasReq && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(kind, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, _ := observed(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, kind, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, kind, enforced.String())
	}
	ratio := float64(l) / float64(r)
	shown, max := ratio, float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		ratio, max = ratio*1000, float64(enforced.MilliValue())
	}
	if ratio > max {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, kind, enforced.String(), shown)
	}
	return nil
}

// admitClaimLimits checks a claim's storage against PersistentVolumeClaim
// ranges.
func (s *Server) admitClaimLimits(ctx context.Context, c *call, pvc *corev1.PersistentVolumeClaim) error {
	ranges, err := s.limitRanges(ctx, pvc.Namespace)
	if err != nil || len(ranges) == 0 {
		return err
	}
	var errs []error
	for _, lr := range ranges {
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypePersistentVolumeClaim {
				continue
			}
			for k, v := range it.Min {
				if err := minConstraint(string(it.Type), string(k), v, pvc.Spec.Resources.Requests, pvc.Spec.Resources.Limits); err != nil {
					errs = append(errs, err)
				}
			}
			for k, v := range it.Max {
				if err := maxRequestConstraint(string(it.Type), string(k), v, pvc.Spec.Resources.Requests); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if len(errs) > 0 {
		return c.forbidden(pvc, utilerrors.NewAggregate(errs))
	}
	return nil
}

// maxRequestConstraint is max for claims, which only state requests.
func maxRequestConstraint(kind, name string, enforced resource.Quantity, request corev1.ResourceList) error {
	req, hasReq := request[corev1.ResourceName(name)]
	r, _, e := observed(req, resource.Quantity{}, enforced)
	if !hasReq {
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, kind, enforced.String())
	}
	if r > e {
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	}
	return nil
}
