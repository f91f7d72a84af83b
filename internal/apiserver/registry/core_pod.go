package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// podStrategy is upstream's pod strategy (pkg/registry/core/pod): status
// Pending with the QoS class on create, generation tracking of the spec
// (PodObservedGenerationTracking), the DefaultTolerationSeconds admission
// plugin's not-ready/unreachable tolerations on create, and printPod.
func podStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		defaults: func(obj runtime.Object) {
			if p, ok := obj.(*corev1.Pod); ok {
				defaultPod(p)
			}
		},
		prepareCreate: func(obj runtime.Object) {
			if p, ok := obj.(*corev1.Pod); ok {
				preparePodForCreate(p)
			}
		},
		validate: func(obj runtime.Object) field.ErrorList {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return nil
			}
			return validatePodSpec(&p.Spec, &p.ObjectMeta, field.NewPath("spec"), true)
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			p, ok1 := obj.(*corev1.Pod)
			o, ok2 := old.(*corev1.Pod)
			if !ok1 || !ok2 {
				return nil
			}
			return validatePodUpdate(p, o)
		},
		warnings: func(obj, old runtime.Object) []string {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return nil
			}
			return podSpecWarnings(&p.Spec, field.NewPath("spec"))
		},
		columns: podColumns(),
		row:     podRow,
		fields:  podFields,
	}
}

func preparePodForCreate(p *corev1.Pod) {
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOS(p)}
	if len(p.Spec.SchedulingGates) > 0 {
		p.Status.Conditions = []corev1.PodCondition{{
			Type:    corev1.PodScheduled,
			Status:  corev1.ConditionFalse,
			Reason:  corev1.PodReasonSchedulingGated,
			Message: "Scheduling is blocked due to non-empty scheduling gates",
		}}
	}
	addDefaultTolerations(p)
}

// addDefaultTolerations is the DefaultTolerationSeconds admission plugin:
// pods that do not tolerate NoExecute taints for not-ready and unreachable
// nodes tolerate them for 300 s.
func addDefaultTolerations(p *corev1.Pod) {
	notReady, unreachable := false, false
	for _, t := range p.Spec.Tolerations {
		if (t.Key == corev1.TaintNodeNotReady || t.Key == "") && (t.Effect == "" || t.Effect == corev1.TaintEffectNoExecute) {
			notReady = true
		}
		if (t.Key == corev1.TaintNodeUnreachable || t.Key == "") && (t.Effect == "" || t.Effect == corev1.TaintEffectNoExecute) {
			unreachable = true
		}
	}
	if !notReady {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeNotReady,
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)})
	}
	if !unreachable {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeUnreachable,
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)})
	}
}

// podQOS is upstream's GetPodQOS: pod-level resources when set, else the
// sum over all containers; Guaranteed when every container limits cpu and
// memory and requests equal limits, BestEffort when nothing is requested or
// limited, Burstable otherwise.
func podQOS(p *corev1.Pod) corev1.PodQOSClass {
	if r := p.Spec.Resources; r != nil && (hasQOSResource(r.Requests) || hasQOSResource(r.Limits)) {
		return qosOf([]corev1.ResourceRequirements{*r})
	}
	var all []corev1.ResourceRequirements
	for _, c := range p.Spec.Containers {
		all = append(all, c.Resources)
	}
	for _, c := range p.Spec.InitContainers {
		all = append(all, c.Resources)
	}
	return qosOf(all)
}

func hasQOSResource(l corev1.ResourceList) bool {
	_, cpu := l[corev1.ResourceCPU]
	_, mem := l[corev1.ResourceMemory]
	return cpu || mem
}

func qosOf(all []corev1.ResourceRequirements) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	sum := func(into corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		if cur, ok := into[name]; ok {
			q.Add(cur)
		}
		into[name] = q
	}
	for _, r := range all {
		for name, q := range r.Requests {
			if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && q.Sign() > 0 {
				sum(requests, name, q.DeepCopy())
			}
		}
		found := map[corev1.ResourceName]bool{}
		for name, q := range r.Limits {
			if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && q.Sign() > 0 {
				found[name] = true
				sum(limits, name, q.DeepCopy())
			}
		}
		if !found[corev1.ResourceCPU] || !found[corev1.ResourceMemory] {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// validatePodUpdate allows only the mutable parts of a pod spec to change,
// with upstream's message.
func validatePodUpdate(p, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	if len(p.Spec.Containers) != len(old.Spec.Containers) || len(p.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return append(errs, field.Forbidden(specPath, "pod updates may not add or remove containers"))
	}
	if old.Spec.ActiveDeadlineSeconds != nil && p.Spec.ActiveDeadlineSeconds == nil {
		errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), p.Spec.ActiveDeadlineSeconds,
			"must not update from a positive integer to nil value"))
	}
	// Compare with the mutable fields copied over from the new spec.
	mutable := old.Spec.DeepCopy()
	for i := range p.Spec.Containers {
		mutable.Containers[i].Image = p.Spec.Containers[i].Image
	}
	for i := range p.Spec.InitContainers {
		mutable.InitContainers[i].Image = p.Spec.InitContainers[i].Image
	}
	mutable.ActiveDeadlineSeconds = p.Spec.ActiveDeadlineSeconds
	mutable.Tolerations = p.Spec.Tolerations
	if old.Spec.TerminationGracePeriodSeconds != nil && *old.Spec.TerminationGracePeriodSeconds < 0 &&
		p.Spec.TerminationGracePeriodSeconds != nil && *p.Spec.TerminationGracePeriodSeconds == 1 {
		mutable.TerminationGracePeriodSeconds = p.Spec.TerminationGracePeriodSeconds
	}
	mutable.SchedulingGates = p.Spec.SchedulingGates
	if len(old.Spec.SchedulingGates) > 0 {
		// while gated, node affinity and nodeSelector may still be narrowed
		mutable.NodeSelector = p.Spec.NodeSelector
		mutable.Affinity = p.Spec.Affinity
	}
	if !equality.Semantic.DeepEqual(*mutable, p.Spec) {
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s",
			"`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"+
				"`spec.tolerations` (only additions to existing tolerations),"+
				"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")))
	}
	for i, t := range old.Spec.Tolerations {
		if !containsToleration(p.Spec.Tolerations, t) {
			errs = append(errs, field.Forbidden(specPath.Child("tolerations").Index(i), "existing toleration can not be modified except its tolerationSeconds"))
		}
	}
	if len(old.Spec.SchedulingGates) == 0 && len(p.Spec.SchedulingGates) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("schedulingGates"), "only deletion is allowed, but found new scheduling gate '"+p.Spec.SchedulingGates[0].Name+"'"))
	}
	return errs
}

func containsToleration(list []corev1.Toleration, t corev1.Toleration) bool {
	for _, x := range list {
		if x.Key == t.Key && x.Operator == t.Operator && x.Value == t.Value && x.Effect == t.Effect {
			return true
		}
	}
	return false
}
