package scheduler

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Upstream's PodTopologySpread reasons.
const (
	reasonSpread      = "node(s) didn't match pod topology spread constraints"
	reasonSpreadLabel = reasonSpread + " (missing required label)"
)

// spreadConstraint is a parsed TopologySpreadConstraint with upstream's
// defaults (minDomains 1, nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore).
type spreadConstraint struct {
	maxSkew       int32
	topologyKey   string
	selector      labels.Selector
	minDomains    int32
	honorAffinity bool
	honorTaints   bool
}

// spreadConstraints parses the pod's constraints with the given action;
// matchLabelKeys are merged into the selector with the pod's values.
func spreadConstraints(pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("invalid label selector in topology spread constraint: %w", err)
		}
		for _, k := range c.MatchLabelKeys {
			if v, ok := pod.Labels[k]; ok {
				r, err := labels.NewRequirement(k, selection.Equals, []string{v})
				if err != nil {
					return nil, fmt.Errorf("invalid matchLabelKeys in topology spread constraint: %w", err)
				}
				sel = sel.Add(*r)
			}
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, topologyKey: c.TopologyKey, selector: sel, minDomains: 1,
			honorAffinity: true}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if c.NodeAffinityPolicy != nil {
			sc.honorAffinity = *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor
		}
		if c.NodeTaintsPolicy != nil {
			sc.honorTaints = *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor
		}
		out = append(out, sc)
	}
	return out, nil
}

// includes applies the constraint's node inclusion policies.
func (c *spreadConstraint) includes(pod *corev1.Pod, node *corev1.Node, req nodeaffinity.RequiredNodeAffinity) bool {
	if c.honorAffinity {
		if ok, _ := req.Match(node); !ok {
			return false
		}
	}
	if c.honorTaints && untoleratedTaint(node, pod.Spec.Tolerations) {
		return false
	}
	return true
}

// hasAllKeys reports whether node has every constraint's topology label.
func hasAllKeys(node *corev1.Node, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := node.Labels[cs[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}

// countMatching counts the pods in ns matching sel that are not being
// deleted; an empty selector counts nothing (upstream's
// countPodsMatchSelector).
func countMatching(pods []*podInfo, sel labels.Selector, ns string) int {
	if sel.Empty() {
		return 0
	}
	n := 0
	for _, p := range pods {
		if p.terminating() || p.pod.Namespace != ns {
			continue
		}
		if sel.Matches(labels.Set(p.pod.Labels)) {
			n++
		}
	}
	return n
}

// criticalPaths keeps the two domains with the fewest matching pods.
type criticalPaths [2]struct {
	value string
	num   int
}

func newCriticalPaths() criticalPaths {
	var p criticalPaths
	p[0].num, p[1].num = math.MaxInt32, math.MaxInt32
	return p
}

func (p *criticalPaths) update(value string, num int) {
	i := -1
	if value == p[0].value {
		i = 0
	} else if value == p[1].value {
		i = 1
	}
	if i >= 0 {
		p[i].num = num
		if p[0].num > p[1].num {
			p[0], p[1] = p[1], p[0]
		}
		return
	}
	if num < p[0].num {
		p[1] = p[0]
		p[0].value, p[0].num = value, num
	} else if num < p[1].num {
		p[1].value, p[1].num = value, num
	}
}

// spreadState is PodTopologySpread's pre-filter result for the pod's
// DoNotSchedule constraints: matching pods per domain and the emptiest
// domains.
type spreadState struct {
	constraints []spreadConstraint
	counts      []map[string]int // per constraint: domain value → matching pods
	paths       []criticalPaths
}

func preFilterSpread(cs *cycleState, nodes []*nodeInfo) (*spreadState, *status) {
	pod := cs.pod.pod
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		return nil, nil // the system default constraints are all ScheduleAnyway
	}
	constraints, err := spreadConstraints(pod, corev1.DoNotSchedule)
	if err != nil {
		return nil, newStatus(codeUnresolvable, pluginPodTopologySpread, err.Error())
	}
	if len(constraints) == 0 {
		return nil, nil
	}
	s := &spreadState{constraints: constraints, counts: make([]map[string]int, len(constraints)),
		paths: make([]criticalPaths, len(constraints))}
	for i := range s.counts {
		s.counts[i] = map[string]int{}
	}
	req := cs.nodeAffinity.required
	for _, ni := range nodes {
		if !hasAllKeys(ni.node, constraints) {
			continue
		}
		for i := range constraints {
			c := &constraints[i]
			if !c.includes(pod, ni.node, req) {
				continue
			}
			s.counts[i][ni.node.Labels[c.topologyKey]] += countMatching(ni.pods, c.selector, pod.Namespace)
		}
	}
	for i := range constraints {
		s.paths[i] = newCriticalPaths()
		for v, n := range s.counts[i] {
			s.paths[i].update(v, n)
		}
	}
	return s, nil
}

// updateWithPod adds or removes existing pod ex on node (preemption).
func (s *spreadState) updateWithPod(cs *cycleState, ex *podInfo, node *corev1.Node, delta int) {
	if s == nil || ex.pod.Namespace != cs.pod.pod.Namespace || !hasAllKeys(node, s.constraints) {
		return
	}
	for i := range s.constraints {
		c := &s.constraints[i]
		if !c.selector.Matches(labels.Set(ex.pod.Labels)) || !c.includes(cs.pod.pod, node, cs.nodeAffinity.required) {
			continue
		}
		v := node.Labels[c.topologyKey]
		s.counts[i][v] += delta
		s.paths[i].update(v, s.counts[i][v])
	}
}

func (s *spreadState) clone() *spreadState {
	if s == nil {
		return nil
	}
	c := &spreadState{constraints: s.constraints, counts: make([]map[string]int, len(s.counts)),
		paths: append([]criticalPaths(nil), s.paths...)}
	for i, m := range s.counts {
		c.counts[i] = make(map[string]int, len(m))
		for k, v := range m {
			c.counts[i][k] = v
		}
	}
	return c
}

// filterSpread is PodTopologySpread's filter: placing the pod on the node
// must keep each constraint's skew within maxSkew.
func filterSpread(cs *cycleState, ni *nodeInfo) *status {
	s := cs.spread
	if s == nil {
		return nil
	}
	podLabels := labels.Set(cs.pod.pod.Labels)
	for i := range s.constraints {
		c := &s.constraints[i]
		v, ok := ni.node.Labels[c.topologyKey]
		if !ok {
			return newStatus(codeUnresolvable, pluginPodTopologySpread, reasonSpreadLabel)
		}
		minMatch := s.paths[i][0].num
		if len(s.counts[i]) < int(c.minDomains) {
			minMatch = 0
		}
		self := 0
		if c.selector.Matches(podLabels) {
			self = 1
		}
		if s.counts[i][v]+self-minMatch > int(c.maxSkew) {
			return newStatus(codeUnschedulable, pluginPodTopologySpread, reasonSpread)
		}
	}
	return nil
}
