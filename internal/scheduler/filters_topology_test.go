package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

func zoneNodes() []*corev1.Node {
	return []*corev1.Node{
		makeNode("a1", 4000, 8<<30, withLabels("zone", "a")),
		makeNode("a2", 4000, 8<<30, withLabels("zone", "a")),
		makeNode("b1", 4000, 8<<30, withLabels("zone", "b")),
		makeNode("nozone", 4000, 8<<30),
	}
}

func requiredAffinity(terms ...corev1.PodAffinityTerm) podOpt {
	return affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}})
}

func requiredAntiAffinity(terms ...corev1.PodAffinityTerm) podOpt {
	return affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}})
}

func TestInterPodAffinityFilter(t *testing.T) {
	db := makePod("db", onNode("a1"), podLabels("app", "db"))
	tests := []struct {
		name     string
		existing []*corev1.Pod
		pod      *corev1.Pod
		node     string
		want     *want
	}{
		{"affinity to a pod in the same zone", []*corev1.Pod{db}, makePod("p", requiredAffinity(podAffinityTerm("app", "db", "zone"))), "a2", nil},
		{"affinity to a pod in another zone", []*corev1.Pod{db}, makePod("p", requiredAffinity(podAffinityTerm("app", "db", "zone"))), "b1",
			unresolvable("node(s) didn't match pod affinity rules")},
		{"affinity needs the topology label", []*corev1.Pod{db}, makePod("p", requiredAffinity(podAffinityTerm("app", "db", "zone"))), "nozone",
			unresolvable("node(s) didn't match pod affinity rules")},
		{"first pod of a self-affine group", nil, makePod("p", podLabels("app", "web"), requiredAffinity(podAffinityTerm("app", "web", "zone"))), "b1", nil},
		{"affinity to a missing pod that is not itself", nil, makePod("p", requiredAffinity(podAffinityTerm("app", "db", "zone"))), "b1",
			unresolvable("node(s) didn't match pod affinity rules")},
		{"affinity ignores other namespaces", []*corev1.Pod{makePod("db2", onNode("a1"), podLabels("app", "db"), func(p *corev1.Pod) { p.Namespace = "other" })},
			makePod("p", requiredAffinity(podAffinityTerm("app", "db", "zone"))), "a1", unresolvable("node(s) didn't match pod affinity rules")},
		{"anti-affinity to a pod in the zone", []*corev1.Pod{db}, makePod("p", requiredAntiAffinity(podAffinityTerm("app", "db", "zone"))), "a2",
			unfit("node(s) didn't match pod anti-affinity rules")},
		{"anti-affinity elsewhere", []*corev1.Pod{db}, makePod("p", requiredAntiAffinity(podAffinityTerm("app", "db", "zone"))), "b1", nil},
		{"existing pod's anti-affinity rejects", []*corev1.Pod{makePod("lonely", onNode("a1"), requiredAntiAffinity(podAffinityTerm("app", "web", corev1.LabelHostname)))},
			makePod("p", podLabels("app", "web")), "a1", unfit("node(s) didn't satisfy existing pods anti-affinity rules")},
		{"existing pod's anti-affinity is per host", []*corev1.Pod{makePod("lonely", onNode("a1"), requiredAntiAffinity(podAffinityTerm("app", "web", corev1.LabelHostname)))},
			makePod("p", podLabels("app", "web")), "a2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAlgorithm(zoneNodes(), tt.existing...)
			checkStatus(t, filterOn(a, tt.pod, tt.node), tt.want)
		})
	}
}

func spread(maxSkew int32, key string, action corev1.UnsatisfiableConstraintAction, sel map[string]string, opts ...func(*corev1.TopologySpreadConstraint)) podOpt {
	return func(p *corev1.Pod) {
		c := corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: action,
			LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}
		for _, o := range opts {
			o(&c)
		}
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
	}
}

func TestPodTopologySpreadFilter(t *testing.T) {
	web := map[string]string{"app": "web"}
	existing := []*corev1.Pod{
		makePod("w1", onNode("a1"), podLabels("app", "web")),
		makePod("w2", onNode("a2"), podLabels("app", "web")),
	}
	pod := func(opts ...podOpt) *corev1.Pod {
		return makePod("p", append([]podOpt{podLabels("app", "web")}, opts...)...)
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		node string
		want *want
	}{
		{"zone a would be 3 vs 0", pod(spread(1, "zone", corev1.DoNotSchedule, web)), "a1", unfit("node(s) didn't match pod topology spread constraints")},
		{"zone b evens it", pod(spread(1, "zone", corev1.DoNotSchedule, web)), "b1", nil},
		{"maxSkew 3 allows zone a", pod(spread(3, "zone", corev1.DoNotSchedule, web)), "a1", nil},
		{"node without the topology label", pod(spread(1, "zone", corev1.DoNotSchedule, web)), "nozone",
			unresolvable("node(s) didn't match pod topology spread constraints (missing required label)")},
		{"ScheduleAnyway never filters", pod(spread(1, "zone", corev1.ScheduleAnyway, web)), "a1", nil},
		{"minDomains above the domains counts the minimum as 0", pod(spread(2, "zone", corev1.DoNotSchedule, web,
			func(c *corev1.TopologySpreadConstraint) { c.MinDomains = ptr.To[int32](3) })), "b1", nil},
		{"minDomains: zone a is then 3 - 0", pod(spread(2, "zone", corev1.DoNotSchedule, web,
			func(c *corev1.TopologySpreadConstraint) { c.MinDomains = ptr.To[int32](3) })), "a2", unfit("node(s) didn't match pod topology spread constraints")},
		{"node affinity policy Honor leaves out zone b", pod(nodeSelector("zone", "a"), spread(1, "zone", corev1.DoNotSchedule, web)), "a1", nil},
		{"node affinity policy Ignore counts zone b", pod(nodeSelector("zone", "a"), spread(1, "zone", corev1.DoNotSchedule, web,
			func(c *corev1.TopologySpreadConstraint) {
				c.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyIgnore)
			})), "a1",
			unfit("node(s) didn't match pod topology spread constraints")},
		{"pod outside the selector does not count itself", makePod("p", spread(1, "zone", corev1.DoNotSchedule, web)), "a1",
			unfit("node(s) didn't match pod topology spread constraints")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAlgorithm(zoneNodes(), existing...)
			checkStatus(t, filterOn(a, tt.pod, tt.node), tt.want)
		})
	}
}

func TestMatchLabelKeys(t *testing.T) {
	// matchLabelKeys narrows the selector to the pod's own revision.
	existing := []*corev1.Pod{
		makePod("old1", onNode("a1"), podLabels("app", "web", "rev", "1")),
		makePod("old2", onNode("a2"), podLabels("app", "web", "rev", "1")),
	}
	p := makePod("p", podLabels("app", "web", "rev", "2"), spread(1, "zone", corev1.DoNotSchedule, map[string]string{"app": "web"},
		func(c *corev1.TopologySpreadConstraint) { c.MatchLabelKeys = []string{"rev"} }))
	a := testAlgorithm(zoneNodes(), existing...)
	checkStatus(t, filterOn(a, p, "a1"), nil)
	term := podAffinityTerm("app", "web", corev1.LabelHostname)
	term.MatchLabelKeys = []string{"rev"}
	p = makePod("q", podLabels("app", "web", "rev", "2"), requiredAntiAffinity(term))
	checkStatus(t, filterOn(a, p, "a1"), nil)
	term.MatchLabelKeys = nil
	p = makePod("r", podLabels("app", "web", "rev", "2"), requiredAntiAffinity(term))
	checkStatus(t, filterOn(a, p, "a1"), unfit("node(s) didn't match pod anti-affinity rules"))
}

func TestAffinityNamespaceSelector(t *testing.T) {
	term := podAffinityTerm("app", "db", "zone")
	term.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "data"}}
	db := makePod("db", onNode("a1"), podLabels("app", "db"), func(p *corev1.Pod) { p.Namespace = "data" })
	a := testAlgorithm(zoneNodes(), db)
	a.nsLabels = func(ns string) labels.Set {
		if ns == "data" {
			return labels.Set{"team": "data"}
		}
		return nil
	}
	checkStatus(t, filterOn(a, makePod("p", requiredAffinity(term)), "a2"), nil)
	checkStatus(t, filterOn(a, makePod("q", requiredAffinity(term)), "b1"), unresolvable("node(s) didn't match pod affinity rules"))
}
