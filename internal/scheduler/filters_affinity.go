package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Upstream's InterPodAffinity reasons.
const (
	reasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonAffinityRules        = "node(s) didn't match pod affinity rules"
	reasonAntiAffinityRules    = "node(s) didn't match pod anti-affinity rules"
)

// topologyPair is one topology domain: a node label key and value.
type topologyPair struct{ key, value string }

// topologyCounts counts matching pods per topology domain.
type topologyCounts map[topologyPair]int64

func (m topologyCounts) update(node *corev1.Node, key string, delta int64) {
	if v, ok := node.Labels[key]; ok {
		p := topologyPair{key, v}
		m[p] += delta
		if m[p] == 0 {
			delete(m, p)
		}
	}
}

func (m topologyCounts) clone() topologyCounts {
	c := make(topologyCounts, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// affinityState is InterPodAffinity's pre-filter result, as upstream:
// where existing pods' required anti-affinity rejects the pod, and where
// pods matching the pod's own required affinity and anti-affinity run.
type affinityState struct {
	existingAnti topologyCounts // existing pods' anti-affinity terms the pod matches
	affinity     topologyCounts // pods matching all of the pod's affinity terms
	anti         topologyCounts // pods matching the pod's anti-affinity terms
	nsLabels     labels.Set     // labels of the pod's namespace
}

// preFilterAffinity computes the state, or nil when the pod has no
// required (anti-)affinity and no existing pod's anti-affinity concerns it.
func preFilterAffinity(cs *cycleState, nodes []*nodeInfo) (*affinityState, *status) {
	pi := cs.pod
	if pi.parseErr != nil {
		return nil, newStatus(codeUnresolvable, pluginInterPodAffinity, fmt.Sprintf("parsing pod: %v", pi.parseErr))
	}
	s := &affinityState{existingAnti: topologyCounts{}, affinity: topologyCounts{}, anti: topologyCounts{},
		nsLabels: cs.nsLabels(pi.pod.Namespace)}
	own := func(string) labels.Set { return s.nsLabels }
	for _, ni := range nodes {
		for _, ex := range ni.antiAffinityPods {
			for i := range ex.requiredAntiAffinity {
				t := &ex.requiredAntiAffinity[i]
				if t.matches(pi.pod, own) {
					s.existingAnti.update(ni.node, t.topologyKey, 1)
				}
			}
		}
	}
	if len(pi.requiredAffinity) == 0 && len(pi.requiredAntiAffinity) == 0 {
		if len(s.existingAnti) == 0 {
			return nil, nil
		}
		return s, nil
	}
	for _, ni := range nodes {
		for _, ex := range ni.pods {
			s.addIncoming(pi, ex, ni.node, 1, cs.nsLabels)
		}
	}
	return s, nil
}

// addIncoming counts existing pod ex (on node) against the incoming pod's
// required terms.
func (s *affinityState) addIncoming(pi, ex *podInfo, node *corev1.Node, delta int64, ns nsLabeler) {
	if len(pi.requiredAffinity) > 0 && matchesAllTerms(pi.requiredAffinity, ex.pod, ns) {
		for i := range pi.requiredAffinity {
			s.affinity.update(node, pi.requiredAffinity[i].topologyKey, delta)
		}
	}
	for i := range pi.requiredAntiAffinity {
		t := &pi.requiredAntiAffinity[i]
		if t.matches(ex.pod, ns) {
			s.anti.update(node, t.topologyKey, delta)
		}
	}
}

// updateWithPod adds (delta 1) or removes (delta -1) existing pod ex on
// node: preemption's what-if.
func (s *affinityState) updateWithPod(pi, ex *podInfo, node *corev1.Node, delta int64, ns nsLabeler) {
	if s == nil {
		return
	}
	own := func(string) labels.Set { return s.nsLabels }
	for i := range ex.requiredAntiAffinity {
		t := &ex.requiredAntiAffinity[i]
		if t.matches(pi.pod, own) {
			s.existingAnti.update(node, t.topologyKey, delta)
		}
	}
	s.addIncoming(pi, ex, node, delta, ns)
}

func (s *affinityState) clone() *affinityState {
	if s == nil {
		return nil
	}
	return &affinityState{existingAnti: s.existingAnti.clone(), affinity: s.affinity.clone(),
		anti: s.anti.clone(), nsLabels: s.nsLabels}
}

func matchesAllTerms(terms []affinityTerm, pod *corev1.Pod, ns nsLabeler) bool {
	if len(terms) == 0 {
		return false
	}
	for i := range terms {
		if !terms[i].matches(pod, ns) {
			return false
		}
	}
	return true
}

// filterAffinity is InterPodAffinity's filter.
func filterAffinity(cs *cycleState, ni *nodeInfo) *status {
	s := cs.affinity
	if s == nil {
		return nil
	}
	pi, node := cs.pod, ni.node
	if !s.affinityAllows(pi, node, cs.nsLabels) {
		return newStatus(codeUnresolvable, pluginInterPodAffinity, reasonAffinityRules)
	}
	if len(s.anti) > 0 {
		for i := range pi.requiredAntiAffinity {
			key := pi.requiredAntiAffinity[i].topologyKey
			if v, ok := node.Labels[key]; ok && s.anti[topologyPair{key, v}] > 0 {
				return newStatus(codeUnschedulable, pluginInterPodAffinity, reasonAntiAffinityRules)
			}
		}
	}
	if len(s.existingAnti) > 0 {
		for k, v := range node.Labels {
			if s.existingAnti[topologyPair{k, v}] > 0 {
				return newStatus(codeUnschedulable, pluginInterPodAffinity, reasonExistingAntiAffinity)
			}
		}
	}
	return nil
}

// affinityAllows checks the pod's required affinity on node: every term's
// topology domain must hold a matching pod — or, for the first pod of a
// group that selects itself, no matching pod may exist anywhere yet.
func (s *affinityState) affinityAllows(pi *podInfo, node *corev1.Node, ns nsLabeler) bool {
	if len(pi.requiredAffinity) == 0 {
		return true
	}
	podsExist := true
	for i := range pi.requiredAffinity {
		key := pi.requiredAffinity[i].topologyKey
		v, ok := node.Labels[key]
		if !ok {
			return false
		}
		if s.affinity[topologyPair{key, v}] <= 0 {
			podsExist = false
		}
	}
	if podsExist {
		return true
	}
	return len(s.affinity) == 0 && matchesAllTerms(pi.requiredAffinity, pi.pod, ns)
}
