package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// spreadSelector returns the selector of the Services, ReplicationControllers,
// ReplicaSets and StatefulSets that own or select a pod (empty when none):
// the pods that default spreading spreads the pod away from.
type spreadSelector func(pod *corev1.Pod) labels.Selector

// systemDefaultSpread is upstream's system default spreading: soft, at most
// 3 apart per node and 5 per zone, among pods of the same controller or
// Service.
func systemDefaultSpread(sel labels.Selector) []spreadConstraint {
	return []spreadConstraint{
		{maxSkew: 3, topologyKey: corev1.LabelHostname, selector: sel, minDomains: 1, honorAffinity: true},
		{maxSkew: 5, topologyKey: corev1.LabelTopologyZone, selector: sel, minDomains: 1, honorAffinity: true},
	}
}

// scoreConstraints are the ScheduleAnyway constraints PodTopologySpread
// scores with: the pod's own, or the system defaults when it has none.
func (a *algorithm) scoreConstraints(pod *corev1.Pod) (cs []spreadConstraint, requireAll bool) {
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		cs, _ = spreadConstraints(pod, corev1.ScheduleAnyway)
		return cs, true
	}
	if a.spreading == nil {
		return nil, false
	}
	sel := a.spreading(pod)
	if sel == nil || sel.Empty() {
		return nil, false
	}
	return systemDefaultSpread(sel), false
}

// spreadScores is PodTopologySpread's score: nodes in domains with fewer
// matching pods score higher. It reports false when the pod has no soft
// constraints.
func (a *algorithm) spreadScores(cs *cycleState, nodes []*nodeInfo, out []int64) bool {
	pod := cs.pod.pod
	constraints, requireAll := a.scoreConstraints(pod)
	if len(constraints) == 0 {
		return false
	}
	ignored, domains, weights := spreadDomains(constraints, nodes, requireAll)
	// The system defaults (requireAll false) share one selector: a node's
	// matching pods, counted for its zone, serve its hostname domain too.
	counts := &matchCounts{sel: constraints[0].selector, ns: pod.Namespace}
	if !requireAll {
		counts.byNode = make(map[*nodeInfo]int, len(a.cache.list))
	}
	a.countDomains(cs, constraints, requireAll, domains, counts)
	for i, ni := range nodes {
		out[i] = 0
		if ignored[i] {
			continue
		}
		var score float64
		for j := range constraints {
			c := &constraints[j]
			v, ok := ni.node.Labels[c.topologyKey]
			if !ok {
				continue
			}
			var n int64
			if c.topologyKey == corev1.LabelHostname {
				n = int64(counts.of(ni, c.selector))
			} else if d := domains[topologyPair{c.topologyKey, v}]; d != nil {
				n = *d
			}
			score += float64(n)*weights[j] + float64(c.maxSkew-1)
		}
		out[i] = int64(math.Round(score))
	}
	normalizeSpread(out, ignored)
	return true
}

// spreadDomains finds, among the feasible nodes, those ignored for lacking a
// topology label, the domains to count pods in, and each constraint's
// weight ln(domains + 2).
func spreadDomains(constraints []spreadConstraint, nodes []*nodeInfo, requireAll bool) ([]bool, map[topologyPair]*int64, []float64) {
	ignored := make([]bool, len(nodes))
	numIgnored := 0
	domains := map[topologyPair]*int64{}
	sizes := make([]int, len(constraints))
	for i, ni := range nodes {
		if requireAll && !hasAllKeys(ni.node, constraints) {
			ignored[i] = true
			numIgnored++
			continue
		}
		for j := range constraints {
			c := &constraints[j]
			if c.topologyKey == corev1.LabelHostname {
				continue
			}
			p := topologyPair{c.topologyKey, ni.node.Labels[c.topologyKey]}
			if domains[p] == nil {
				domains[p] = new(int64)
				sizes[j]++
			}
		}
	}
	weights := make([]float64, len(constraints))
	for j := range constraints {
		size := sizes[j]
		if constraints[j].topologyKey == corev1.LabelHostname {
			size = len(nodes) - numIgnored
		}
		weights[j] = math.Log(float64(size + 2))
	}
	return ignored, domains, weights
}

// countDomains counts, over all nodes, the matching pods in each domain that
// holds a feasible node.
func (a *algorithm) countDomains(cs *cycleState, constraints []spreadConstraint, requireAll bool, domains map[topologyPair]*int64, counts *matchCounts) {
	pod := cs.pod.pod
	for _, ni := range a.cache.list {
		if requireAll && !hasAllKeys(ni.node, constraints) {
			continue
		}
		for j := range constraints {
			c := &constraints[j]
			if c.topologyKey == corev1.LabelHostname || !c.includes(pod, ni.node, cs.nodeAffinity.required) {
				continue
			}
			d := domains[topologyPair{c.topologyKey, ni.node.Labels[c.topologyKey]}]
			if d != nil {
				*d += int64(counts.of(ni, c.selector))
			}
		}
	}
}

// matchCounts counts a node's pods in namespace ns that a selector
// matches. With byNode set, every selector asked for must be sel, and each
// node is counted once.
type matchCounts struct {
	sel    labels.Selector
	ns     string
	byNode map[*nodeInfo]int
}

func (m *matchCounts) of(ni *nodeInfo, sel labels.Selector) int {
	if m.byNode == nil {
		return countMatching(ni.pods, sel, m.ns)
	}
	n, ok := m.byNode[ni]
	if !ok {
		n = countMatching(ni.pods, m.sel, m.ns)
		m.byNode[ni] = n
	}
	return n
}

// normalizeSpread maps raw spread scores (lower is better) to 0–100.
func normalizeSpread(scores []int64, ignored []bool) {
	lowest, highest := int64(math.MaxInt64), int64(0)
	for i, s := range scores {
		if ignored[i] {
			continue
		}
		lowest, highest = min(lowest, s), max(highest, s)
	}
	for i, s := range scores {
		switch {
		case ignored[i]:
			scores[i] = 0
		case highest == 0:
			scores[i] = maxNodeScore
		default:
			scores[i] = maxNodeScore * (highest + lowest - s) / highest
		}
	}
}
