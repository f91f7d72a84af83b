package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// hardPodAffinityWeight is upstream's default weight of an existing pod's
// required affinity term that the incoming pod matches.
const hardPodAffinityWeight = 1

// topologyScores sums term weights per topology key and value.
type topologyScores map[string]map[string]int64

func (m topologyScores) add(t *affinityTerm, weight int64, pod *corev1.Pod, ns nsLabeler, node *corev1.Node) {
	if !t.matches(pod, ns) {
		return
	}
	v, ok := node.Labels[t.topologyKey]
	if !ok {
		return
	}
	if m[t.topologyKey] == nil {
		m[t.topologyKey] = map[string]int64{}
	}
	m[t.topologyKey][v] += weight
}

// affinityScores is InterPodAffinity's score: the pod's preferred
// (anti-)affinity to existing pods and existing pods' affinity to the pod,
// summed per topology domain and scaled min–max to 0–100. It reports false
// when nothing applies.
func (a *algorithm) affinityScores(cs *cycleState, nodes []*nodeInfo, out []int64) bool {
	pi := cs.pod
	hasPreferred := len(pi.preferredAffinity)+len(pi.preferredAntiAffinity) > 0
	own := cs.nsLabels(pi.pod.Namespace)
	ownNS := func(string) labels.Set { return own }
	scores := topologyScores{}
	for _, ni := range a.cache.list {
		if len(ni.node.Labels) == 0 {
			continue
		}
		pods := ni.affinityPods
		if hasPreferred {
			pods = ni.pods
		}
		for _, ex := range pods {
			for i := range pi.preferredAffinity {
				t := &pi.preferredAffinity[i]
				scores.add(&t.affinityTerm, int64(t.weight), ex.pod, cs.nsLabels, ni.node)
			}
			for i := range pi.preferredAntiAffinity {
				t := &pi.preferredAntiAffinity[i]
				scores.add(&t.affinityTerm, -int64(t.weight), ex.pod, cs.nsLabels, ni.node)
			}
			for i := range ex.requiredAffinity {
				scores.add(&ex.requiredAffinity[i], hardPodAffinityWeight, pi.pod, ownNS, ni.node)
			}
			for i := range ex.preferredAffinity {
				t := &ex.preferredAffinity[i]
				scores.add(&t.affinityTerm, int64(t.weight), pi.pod, ownNS, ni.node)
			}
			for i := range ex.preferredAntiAffinity {
				t := &ex.preferredAntiAffinity[i]
				scores.add(&t.affinityTerm, -int64(t.weight), pi.pod, ownNS, ni.node)
			}
		}
	}
	if len(scores) == 0 {
		return false
	}
	lowest, highest := int64(math.MaxInt64), int64(math.MinInt64)
	for i, ni := range nodes {
		var s int64
		for key, values := range scores {
			if v, ok := ni.node.Labels[key]; ok {
				s += values[v]
			}
		}
		out[i] = s
		lowest, highest = min(lowest, s), max(highest, s)
	}
	for i := range out[:len(nodes)] {
		f := 0.0
		if highest > lowest {
			f = float64(maxNodeScore) * float64(out[i]-lowest) / float64(highest-lowest)
		}
		out[i] = int64(f)
	}
	return true
}
