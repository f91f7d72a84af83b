package quota

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
)

// podNames are the names pods count towards (besides prefixes).
var podNames = sets.New(
	corev1.ResourcePods, ObjectCountName(podsGR),
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
)

func isPodResource(n corev1.ResourceName) bool {
	s := string(n)
	return podNames.Has(n) || strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) ||
		strings.HasPrefix(s, corev1.ResourceRequestsHugePagesPrefix) ||
		(strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) && isExtended(corev1.ResourceName(strings.TrimPrefix(s, corev1.DefaultResourceRequestsPrefix))))
}

// Relevant returns the names among hard that objects of gr count towards.
func Relevant(gr schema.GroupResource, hard corev1.ResourceList) []corev1.ResourceName {
	var out []corev1.ResourceName
	for n := range hard {
		if g, ok := CountedResource(n); ok && g == gr {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Selectors are the scope requirements of q: its scopes and its scope
// selector's expressions.
func Selectors(q *corev1.ResourceQuota) []corev1.ScopedResourceSelectorRequirement {
	var out []corev1.ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		out = append(out, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		out = append(out, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return out
}

// Matches reports whether quota q (with hard limits hard) applies to obj
// of resource gr: q limits something gr counts towards, and obj is in
// every scope (scopes select pods only).
func Matches(q *corev1.ResourceQuota, hard corev1.ResourceList, gr schema.GroupResource, obj metav1.Object) (bool, error) {
	if len(Relevant(gr, hard)) == 0 {
		return false, nil
	}
	for _, s := range Selectors(q) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || gr != podsGR {
			return false, nil
		}
		in, err := podInScope(s, pod)
		if err != nil || !in {
			return false, err
		}
	}
	return true, nil
}

func podInScope(s corev1.ScopedResourceSelectorRequirement, p *corev1.Pod) (bool, error) {
	switch s.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return p.Spec.ActiveDeadlineSeconds != nil && *p.Spec.ActiveDeadlineSeconds >= 0, nil
	case corev1.ResourceQuotaScopeNotTerminating:
		return p.Spec.ActiveDeadlineSeconds == nil || *p.Spec.ActiveDeadlineSeconds < 0, nil
	case corev1.ResourceQuotaScopeBestEffort:
		return bestEffort(p), nil
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !bestEffort(p), nil
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(p), nil
	case corev1.ResourceQuotaScopePriorityClass:
		if s.Operator == corev1.ScopeSelectorOpExists {
			return p.Spec.PriorityClassName != "", nil
		}
		op := map[corev1.ScopeSelectorOperator]selection.Operator{
			corev1.ScopeSelectorOpIn: selection.In, corev1.ScopeSelectorOpNotIn: selection.NotIn,
			corev1.ScopeSelectorOpDoesNotExist: selection.DoesNotExist,
		}[s.Operator]
		req, err := labels.NewRequirement(string(s.ScopeName), op, s.Values)
		if err != nil {
			return false, fmt.Errorf("scope selector: %w", err)
		}
		l := labels.Set{}
		if p.Spec.PriorityClassName != "" {
			l[string(s.ScopeName)] = p.Spec.PriorityClassName
		}
		return labels.NewSelector().Add(*req).Matches(l), nil
	}
	return false, nil
}

func bestEffort(p *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, l := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
				for r := range l {
					if r == corev1.ResourceCPU || r == corev1.ResourceMemory {
						return false
					}
				}
			}
		}
	}
	return true
}

func crossNamespaceAffinity(p *corev1.Pod) bool {
	a := p.Spec.Affinity
	if a == nil {
		return false
	}
	cross := func(t corev1.PodAffinityTerm) bool { return len(t.Namespaces) > 0 || t.NamespaceSelector != nil }
	var terms []corev1.PodAffinityTerm
	if a.PodAffinity != nil {
		terms = append(terms, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if a.PodAntiAffinity != nil {
		terms = append(terms, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	return slices.ContainsFunc(terms, cross)
}

// mustSpecify are the names that, when a quota limits them, every
// container of a pod must state (upstream keeps this for compatibility).
var mustSpecify = sets.New(corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceRequestsCPU,
	corev1.ResourceRequestsMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory)

// Constraints checks that every container of pod states the compute
// resources among limited that upstream requires; the error is upstream's
// "must specify limits.cpu for: a,b; requests.memory for: a".
func Constraints(limited []corev1.ResourceName, pod *corev1.Pod) error {
	required := sets.New(limited...).Intersection(mustSpecify)
	if required.Len() == 0 {
		return nil
	}
	missing := map[corev1.ResourceName]sets.Set[string]{}
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			has := podCompute(c.Resources.Requests, c.Resources.Limits)
			for r := range required {
				if _, ok := has[r]; !ok {
					if missing[r] == nil {
						missing[r] = sets.New[string]()
					}
					missing[r].Insert(c.Name)
				}
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(missing))
	for r := range missing {
		names = append(names, string(r))
	}
	sort.Strings(names)
	msgs := make([]string, len(names))
	for i, r := range names {
		msgs[i] = fmt.Sprintf("%s for: %s", r, strings.Join(sets.List(missing[corev1.ResourceName(r)]), ","))
	}
	return fmt.Errorf("must specify %s", strings.Join(msgs, "; "))
}

// Mask keeps the entries of l named in names.
func Mask(l corev1.ResourceList, names []corev1.ResourceName) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, n := range names {
		if q, ok := l[n]; ok {
			out[n] = q.DeepCopy()
		}
	}
	return out
}

// Add returns a + b.
func Add(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range a {
		out[k] = v.DeepCopy()
	}
	add(out, b)
	return out
}

// Exceeded returns the names whose usage is above hard.
func Exceeded(usage, hard corev1.ResourceList) []corev1.ResourceName {
	var out []corev1.ResourceName
	for n, u := range usage {
		if h, ok := hard[n]; ok && u.Cmp(h) > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Equal compares two resource lists by value.
func Equal(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

// String prints a list as upstream's quota messages do: "a=1,b=2".
func String(l corev1.ResourceList) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		q := l[corev1.ResourceName(k)]
		parts[i] = k + "=" + q.String()
	}
	return strings.Join(parts, ",")
}

// Names prints resource names sorted and comma-separated.
func Names(names []corev1.ResourceName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}
