package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// maxNodeScore is the most a score plugin gives a node.
const maxNodeScore int64 = 100

// The default profile's score weights.
const (
	weightTaintToleration    = 3
	weightNodeAffinity       = 2
	weightFit                = 1
	weightPodTopologySpread  = 2
	weightInterPodAffinity   = 2
	weightBalancedAllocation = 1
	weightImageLocality      = 1
)

type nodeScore struct {
	name  string
	total int64
}

// score runs the default profile's score plugins over the feasible nodes,
// normalizes each plugin's scores as upstream and sums them by weight.
func (a *algorithm) score(cs *cycleState, nodes []*nodeInfo) []nodeScore {
	out := make([]nodeScore, len(nodes))
	raw := make([]int64, len(nodes))
	for i, ni := range nodes {
		out[i].name = ni.node.Name
		out[i].total = weightFit*leastAllocatedScore(cs.pod, ni) +
			weightBalancedAllocation*balancedAllocationScore(cs.pod, ni) +
			weightImageLocality*a.imageLocalityScore(cs.pod, ni)
	}
	taintScores(cs.pod, nodes, raw)
	addWeighted(out, raw, weightTaintToleration)
	if nodeAffinityScores(cs.pod, nodes, raw) {
		addWeighted(out, raw, weightNodeAffinity)
	}
	if a.spreadScores(cs, nodes, raw) {
		addWeighted(out, raw, weightPodTopologySpread)
	}
	if a.affinityScores(cs, nodes, raw) {
		addWeighted(out, raw, weightInterPodAffinity)
	}
	return out
}

func addWeighted(out []nodeScore, scores []int64, weight int64) {
	for i := range out {
		out[i].total += weight * scores[i]
	}
}

// leastAllocatedScore is NodeResourcesFit's default LeastAllocated
// strategy over CPU and memory (weight 1 each), counting containers that
// request nothing at upstream's defaults.
func leastAllocatedScore(pi *podInfo, ni *nodeInfo) int64 {
	var sum, weights int64
	if alloc := ni.allocatable.milliCPU; alloc > 0 {
		sum += leastRequested(ni.nonZeroCPU+pi.nonZeroCPU, alloc)
		weights++
	}
	if alloc := ni.allocatable.memory; alloc > 0 {
		sum += leastRequested(ni.nonZeroMemory+pi.nonZeroMemory, alloc)
		weights++
	}
	if weights == 0 {
		return 0
	}
	return sum / weights
}

func leastRequested(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}

// balancedAllocationScore favours nodes whose CPU and memory would be used
// in equal shares; pods that request neither are not scored.
func balancedAllocationScore(pi *podInfo, ni *nodeInfo) int64 {
	if pi.req.milliCPU == 0 && pi.req.memory == 0 {
		return 0
	}
	var fractions [2]float64
	n := 0
	add := func(req, alloc int64) {
		if alloc == 0 {
			return
		}
		fractions[n] = math.Min(float64(req)/float64(alloc), 1)
		n++
	}
	add(ni.requested.milliCPU+pi.req.milliCPU, ni.allocatable.milliCPU)
	add(ni.requested.memory+pi.req.memory, ni.allocatable.memory)
	std := 0.0
	if n == 2 {
		std = math.Abs((fractions[0] - fractions[1]) / 2)
	}
	return int64((1 - std) * float64(maxNodeScore))
}

// Upstream ImageLocality's thresholds.
const (
	mib                   int64 = 1024 * 1024
	minImageThreshold           = 23 * mib
	maxContainerThreshold       = 1000 * mib
)

// imageLocalityScore favours nodes that already have the pod's images,
// scaled by how widely each image is spread (to avoid piling pods onto the
// one node that has it).
func (a *algorithm) imageLocalityScore(pi *podInfo, ni *nodeInfo) int64 {
	if len(ni.images) == 0 {
		return 0
	}
	total := float64(len(a.cache.list))
	var sum int64
	scan := func(cs []corev1.Container) {
		for i := range cs {
			name := normalizedImageName(cs[i].Image)
			if size, ok := ni.images[name]; ok {
				spread := float64(a.cache.imageNodes[name]) / total
				sum += int64(float64(size) * spread)
			}
		}
	}
	scan(pi.pod.Spec.InitContainers)
	scan(pi.pod.Spec.Containers)
	maxThreshold := maxContainerThreshold * int64(len(pi.pod.Spec.InitContainers)+len(pi.pod.Spec.Containers))
	sum = min(max(sum, minImageThreshold), maxThreshold)
	return maxNodeScore * (sum - minImageThreshold) / (maxThreshold - minImageThreshold)
}

// taintScores is TaintToleration's score: fewer intolerable
// PreferNoSchedule taints is better.
func taintScores(pi *podInfo, nodes []*nodeInfo, out []int64) {
	var prefer []corev1.Toleration
	for _, t := range pi.pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			prefer = append(prefer, t)
		}
	}
	for i, ni := range nodes {
		var n int64
		for j := range ni.node.Spec.Taints {
			t := &ni.node.Spec.Taints[j]
			if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(prefer, t) {
				n++
			}
		}
		out[i] = n
	}
	defaultNormalize(out, true)
}

// nodeAffinityScores is NodeAffinity's score: the summed weights of the
// preferred terms a node matches. It reports false when the pod has none.
func nodeAffinityScores(pi *podInfo, nodes []*nodeInfo, out []int64) bool {
	a := pi.pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return false
	}
	terms, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		return false
	}
	for i, ni := range nodes {
		out[i] = terms.Score(ni.node)
	}
	defaultNormalize(out, false)
	return true
}

// defaultNormalize scales scores to 0–100 by the highest (reversed when
// asked), as upstream's DefaultNormalizeScore.
func defaultNormalize(scores []int64, reverse bool) {
	var highest int64
	for _, s := range scores {
		highest = max(highest, s)
	}
	if highest == 0 {
		if reverse {
			for i := range scores {
				scores[i] = maxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = maxNodeScore * s / highest
		if reverse {
			s = maxNodeScore - s
		}
		scores[i] = s
	}
}
