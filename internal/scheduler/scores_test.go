package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Expected scores below are worked out with upstream's formulas; the first
// two cases are upstream's own test fixtures.

func TestLeastAllocatedAndBalancedScores(t *testing.T) {
	nodes := []*corev1.Node{makeNode("n1", 4000, 10000), makeNode("n2", 6000, 10000)}
	a := testAlgorithm(nodes)
	pi := info(makePod("p", requests("cpu", "3000m", "memory", "5000")))
	var least, balanced []int64
	for _, n := range []string{"n1", "n2"} {
		least = append(least, leastAllocatedScore(pi, a.cache.nodes[n]))
		balanced = append(balanced, balancedAllocationScore(pi, a.cache.nodes[n]))
	}
	if !reflect.DeepEqual(least, []int64{37, 50}) {
		t.Errorf("least allocated: %v, want [37 50]", least)
	}
	if !reflect.DeepEqual(balanced, []int64{87, 100}) {
		t.Errorf("balanced allocation: %v, want [87 100]", balanced)
	}
	// A best-effort pod counts as 100m/200Mi for LeastAllocated and is not
	// scored by BalancedAllocation.
	be := info(makePod("be"))
	big := testAlgorithm([]*corev1.Node{makeNode("n", 1000, 1<<30)})
	if got := leastAllocatedScore(be, big.cache.nodes["n"]); got != (90+80)/2 {
		t.Errorf("best effort least allocated: %d, want 85", got)
	}
	if got := balancedAllocationScore(be, big.cache.nodes["n"]); got != 0 {
		t.Errorf("best effort balanced: %d, want 0", got)
	}
}

func scoresOf(t *testing.T, a *algorithm, p *corev1.Pod, fn func(cs *cycleState, nodes []*nodeInfo, out []int64) bool) []int64 {
	t.Helper()
	cs, st := a.preFilter(info(p))
	if st != nil {
		t.Fatal(st.message())
	}
	out := make([]int64, len(a.cache.list))
	if !fn(cs, a.cache.list, out) {
		return nil
	}
	return out
}

func TestTaintAndNodeAffinityScores(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("clean", 1000, 1<<30, withLabels("tier", "a")),
		makeNode("one", 1000, 1<<30, withLabels("tier", "b"), withTaint("k1", "v", corev1.TaintEffectPreferNoSchedule)),
		makeNode("two", 1000, 1<<30, withTaint("k1", "v", corev1.TaintEffectPreferNoSchedule), withTaint("k2", "v", corev1.TaintEffectPreferNoSchedule)),
	}
	a := testAlgorithm(nodes)
	taints := func(cs *cycleState, ns []*nodeInfo, out []int64) bool { taintScores(cs.pod, ns, out); return true }
	if got := scoresOf(t, a, makePod("p"), taints); !reflect.DeepEqual(got, []int64{100, 50, 0}) {
		t.Errorf("taint scores %v, want [100 50 0]", got)
	}
	tolerant := makePod("t", toleration("k1", "v", corev1.TaintEffectPreferNoSchedule))
	if got := scoresOf(t, a, tolerant, taints); !reflect.DeepEqual(got, []int64{100, 100, 0}) {
		t.Errorf("taint scores with toleration %v, want [100 100 0]", got)
	}
	pref := makePod("p", affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
		{Weight: 2, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "tier", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}},
		{Weight: 8, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "tier", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}}},
	}}}))
	na := func(cs *cycleState, ns []*nodeInfo, out []int64) bool { return nodeAffinityScores(cs.pod, ns, out) }
	if got := scoresOf(t, a, pref, na); !reflect.DeepEqual(got, []int64{25, 100, 0}) {
		t.Errorf("node affinity scores %v, want [25 100 0]", got)
	}
	if got := scoresOf(t, a, makePod("none"), na); got != nil {
		t.Errorf("node affinity without preferences scored %v", got)
	}
}

func TestImageLocalityScore(t *testing.T) {
	withImage := func(n *corev1.Node) {
		n.Status.Images = []corev1.ContainerImage{{Names: []string{"registry.example/app:v1"}, SizeBytes: 250 * mib}}
	}
	a := testAlgorithm([]*corev1.Node{makeNode("has", 1000, 1<<30, withImage), makeNode("lacks", 1000, 1<<30)})
	p := info(makePod("p", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.example/app:v1" }))
	// 250 MiB on 1 of 2 nodes scales to 125 MiB: 100×(125−23)/(1000−23) = 10.
	if got := a.imageLocalityScore(p, a.cache.nodes["has"]); got != 10 {
		t.Errorf("image locality %d, want 10", got)
	}
	if got := a.imageLocalityScore(p, a.cache.nodes["lacks"]); got != 0 {
		t.Errorf("image locality without the image %d, want 0", got)
	}
	// An image without a tag is :latest.
	if normalizedImageName("busybox") != "busybox:latest" || normalizedImageName("host:5000/busybox") != "host:5000/busybox:latest" {
		t.Error("normalizedImageName")
	}
}

func TestSpreadScores(t *testing.T) {
	web := map[string]string{"app": "web"}
	existing := []*corev1.Pod{
		makePod("w1", onNode("a1"), podLabels("app", "web")),
		makePod("w2", onNode("a2"), podLabels("app", "web")),
	}
	a := testAlgorithm(zoneNodes(), existing...)
	// Zones a (2 pods) and b (0): raw ⌊2×ln 4⌉ = 3 and 0; normalized 0 and
	// 100; the node without a zone label is ignored.
	p := makePod("p", podLabels("app", "web"), spread(1, "zone", corev1.ScheduleAnyway, web))
	if got := scoresOf(t, a, p, a.spreadScores); !reflect.DeepEqual(got, []int64{0, 0, 100, 0}) {
		t.Errorf("spread scores %v, want [0 0 100 0]", got)
	}
	// Default spreading by hostname and zone for a pod of a controller: the
	// node without a zone still gets hostname spreading.
	a.spreading = func(*corev1.Pod) labels.Selector { return labels.SelectorFromSet(web) }
	got := scoresOf(t, a, makePod("q", podLabels("app", "web")), a.spreadScores)
	if got == nil || got[2] != 100 || got[0] >= got[2] || got[3] == 0 {
		t.Errorf("default spreading scores %v: want b1 best and nozone scored", got)
	}
	a.spreading = func(*corev1.Pod) labels.Selector { return labels.Everything() }
	if got := scoresOf(t, a, makePod("r"), a.spreadScores); got != nil {
		t.Errorf("pod of no controller scored %v", got)
	}
}

func TestInterPodAffinityScores(t *testing.T) {
	db := makePod("db", onNode("a1"), podLabels("app", "db"))
	a := testAlgorithm(zoneNodes(), db)
	pref := makePod("p", affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
		{Weight: 10, PodAffinityTerm: podAffinityTerm("app", "db", "zone")}}}}))
	if got := scoresOf(t, a, pref, a.affinityScores); !reflect.DeepEqual(got, []int64{100, 100, 0, 0}) {
		t.Errorf("preferred affinity scores %v, want [100 100 0 0]", got)
	}
	anti := makePod("q", affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
		{Weight: 10, PodAffinityTerm: podAffinityTerm("app", "db", "zone")}}}}))
	if got := scoresOf(t, a, anti, a.affinityScores); !reflect.DeepEqual(got, []int64{0, 0, 100, 100}) {
		t.Errorf("preferred anti-affinity scores %v, want [0 0 100 100]", got)
	}
	// An existing pod's required affinity attracts matching pods (weight 1).
	a = testAlgorithm(zoneNodes(), makePod("fan", onNode("b1"), requiredAffinity(podAffinityTerm("app", "web", "zone"))))
	if got := scoresOf(t, a, makePod("w", podLabels("app", "web")), a.affinityScores); !reflect.DeepEqual(got, []int64{0, 0, 100, 0}) {
		t.Errorf("existing required affinity scores %v, want [0 0 100 0]", got)
	}
	empty := testAlgorithm(zoneNodes(), makePod("plain", onNode("a1"), podLabels("app", "db")))
	if got := scoresOf(t, empty, makePod("x"), empty.affinityScores); got != nil {
		t.Errorf("no affinity anywhere scored %v", got)
	}
}

func TestSelectHostPrefersHighestScore(t *testing.T) {
	a := testAlgorithm(nil)
	if got := a.selectHost([]nodeScore{{"a", 10}, {"b", 30}, {"c", 20}}); got != "b" {
		t.Fatalf("selectHost %s", got)
	}
	seen := map[string]bool{}
	for range 200 {
		seen[a.selectHost([]nodeScore{{"a", 5}, {"b", 5}, {"c", 1}})] = true
	}
	if !seen["a"] || !seen["b"] || seen["c"] {
		t.Fatalf("ties not broken at random among the best: %v", seen)
	}
}

// TestDefaultSpreadScoresExact checks the system default spreading (by
// hostname, maxSkew 3, and by zone, maxSkew 5, one selector) to the unit.
// Weights ln(4 nodes + 2) = 1.79 and ln(3 zones + 2) = 1.61; raw score =
// Σ matching × weight + maxSkew − 1: a1 1×1.79+2 + 3×1.61+4 = 12.6 → 13,
// a2 2×1.79+2 + 8.83 → 14, b1 3.79 + 1×1.61+4 → 9, c1 2 + 4 = 6;
// normalized 100 × (14 + 6 − raw) / 14.
func TestDefaultSpreadScoresExact(t *testing.T) {
	zone := func(z string) nodeOpt { return withLabels(corev1.LabelTopologyZone, z) }
	nodes := []*corev1.Node{makeNode("a1", 4000, 8<<30, zone("a")), makeNode("a2", 4000, 8<<30, zone("a")),
		makeNode("b1", 4000, 8<<30, zone("b")), makeNode("c1", 4000, 8<<30, zone("c"))}
	a := testAlgorithm(nodes,
		makePod("w1", onNode("a1"), podLabels("app", "web")), makePod("w2", onNode("a2"), podLabels("app", "web")),
		makePod("w3", onNode("a2"), podLabels("app", "web")), makePod("w4", onNode("b1"), podLabels("app", "web")),
		makePod("x1", onNode("c1"), podLabels("app", "db")))
	a.spreading = func(*corev1.Pod) labels.Selector { return labels.SelectorFromSet(labels.Set{"app": "web"}) }
	if got := scoresOf(t, a, makePod("q", podLabels("app", "web")), a.spreadScores); !reflect.DeepEqual(got, []int64{50, 42, 78, 100}) {
		t.Errorf("default spreading scores %v, want [50 42 78 100]", got)
	}
}
