package scheduler

import (
	"math"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Upstream's preemption messages.
const (
	reasonPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	reasonNoVictims            = "No preemption victims found for incoming pod"
	msgPreemptNever            = "not eligible due to preemptionPolicy=Never."
	msgTerminatingVictim       = "not eligible due to a terminating pod on the nominated node."
	// Upstream's bounds on how many candidate nodes a dry run looks for.
	minCandidateNodesPercentage = 10
	minCandidateNodesAbsolute   = 100
)

// preemption is the outcome of upstream's DefaultPreemption post-filter.
type preemption struct {
	node    string     // nominated node ("" when preemption cannot help)
	victims []*podInfo // pods to evict from node
	// clearNominated: lower-priority pods nominated to node that lose their
	// nomination.
	clearNominated []*podInfo
	// msg is the post-filter message (starting "preemption: ") when
	// preemption did not find a node; "" on success.
	msg string
	// clearOwn: the pod's own nomination is to be cleared.
	clearOwn bool
}

// candidate is a node where evicting victims makes room for the pod.
type candidate struct {
	ni           *nodeInfo
	victims      []*podInfo
	pdbViolating int
}

// preempt looks for a node where evicting lower-priority pods would let pi
// fit, choosing victims and node as upstream does. Called with the cache
// locked; it changes nothing but returns what to do.
func (a *algorithm) preempt(cs *cycleState, pi *podInfo, diag *diagnosis, policy corev1.PreemptionPolicy,
	pdbs []*policyv1.PodDisruptionBudget, now time.Time) preemption {
	if policy == corev1.PreemptNever {
		return preemption{msg: "preemption: " + msgPreemptNever}
	}
	if nnn := pi.pod.Status.NominatedNodeName; nnn != "" {
		st := diag.statusOf(nnn)
		if st == nil || st.code != codeUnresolvable {
			if ni := a.cache.nodes[nnn]; ni != nil && terminatingVictimOn(ni, pi.priority) {
				return preemption{msg: "preemption: " + msgTerminatingVictim}
			}
		}
	}
	all := a.cache.list
	var potential []*nodeInfo
	if cs != nil {
		for _, ni := range all {
			if st := diag.statusOf(ni.node.Name); st != nil && st.code == codeUnschedulable {
				potential = append(potential, ni)
			}
		}
	}
	if len(potential) == 0 {
		return preemption{msg: notHelpful(len(all), newDiagnosis()), clearOwn: true}
	}
	cands, statuses := a.dryRun(cs, pi, potential, pdbs, now)
	if len(cands) == 0 {
		return preemption{msg: notHelpful(len(all), statuses), clearOwn: true}
	}
	best := pickCandidate(cands, now)
	p := preemption{node: best.ni.node.Name, victims: best.victims}
	for _, np := range a.cache.nominated[p.node] {
		if np.priority < pi.priority {
			p.clearNominated = append(p.clearNominated, np)
		}
	}
	return p
}

// notHelpful is the post-filter message when no node can be freed: the
// dry run's statuses, with every other node "Preemption is not helpful".
func notHelpful(numAll int, d diagnosis) string {
	d.absent = newStatus(codeUnresolvable, pluginDefaultPreemption, reasonPreemptionNotHelpful)
	d.preFilterMsg, d.postFilterMsg = "", ""
	return "preemption: " + (&fitError{numAllNodes: numAll, diag: d}).Error()
}

// terminatingVictimOn reports whether a lower-priority pod on ni is already
// going away because the scheduler preempted it: the preemptor then waits.
func terminatingVictimOn(ni *nodeInfo, priority int32) bool {
	for _, p := range ni.pods {
		if p.priority >= priority || p.pod.DeletionTimestamp == nil {
			continue
		}
		for _, c := range p.pod.Status.Conditions {
			if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == corev1.PodReasonPreemptionByScheduler {
				return true
			}
		}
	}
	return false
}

// dryRun simulates preemption on the potential nodes, from a random offset,
// until enough candidates are found (at least one not violating a
// PodDisruptionBudget).
func (a *algorithm) dryRun(cs *cycleState, pi *podInfo, potential []*nodeInfo, pdbs []*policyv1.PodDisruptionBudget, now time.Time) ([]candidate, diagnosis) {
	n := len(potential)
	want := max(n*minCandidateNodesPercentage/100, minCandidateNodesAbsolute)
	want = min(want, n)
	offset := a.rand.Intn(n)
	statuses := newDiagnosis()
	var good, violating []candidate
	for i := 0; i < n; i++ {
		ni := potential[(offset+i)%n]
		victims, nViolating, st := a.selectVictims(cs.clone(), pi, ni.clone(), pdbs, now)
		if st != nil {
			statuses.set(ni.node.Name, st)
			continue
		}
		c := candidate{ni: ni, victims: victims, pdbViolating: nViolating}
		if nViolating == 0 {
			good = append(good, c)
		} else {
			violating = append(violating, c)
		}
		if len(good) > 0 && len(good)+len(violating) >= want {
			break
		}
	}
	return append(good, violating...), statuses
}

// selectVictims is upstream's SelectVictimsOnNode: remove every lower
// priority pod; if the pod then fits, add them back from the most important
// down (PDB-violating ones first) while it still fits. What could not be
// added back are the victims.
func (a *algorithm) selectVictims(cs *cycleState, pi *podInfo, ni *nodeInfo, pdbs []*policyv1.PodDisruptionBudget, now time.Time) ([]*podInfo, int, *status) {
	var potential []*podInfo
	for _, p := range append([]*podInfo(nil), ni.pods...) {
		if p.priority < pi.priority {
			potential = append(potential, p)
			a.removeFromSim(cs, pi, ni, p)
		}
	}
	if len(potential) == 0 {
		return nil, 0, newStatus(codeUnresolvable, pluginDefaultPreemption, reasonNoVictims)
	}
	if st := a.filterWithNominated(cs, ni); !st.ok() {
		return nil, 0, st
	}
	sort.SliceStable(potential, func(i, j int) bool { return moreImportant(potential[i], potential[j], now) })
	violating, other := splitByPDB(potential, pdbs)
	var victims []*podInfo
	reprieve := func(p *podInfo) bool {
		a.addToSim(cs, pi, ni, p)
		if a.filterWithNominated(cs, ni).ok() {
			return true
		}
		a.removeFromSim(cs, pi, ni, p)
		victims = append(victims, p)
		return false
	}
	nViolating := 0
	for _, p := range violating {
		if !reprieve(p) {
			nViolating++
		}
	}
	for _, p := range other {
		reprieve(p)
	}
	if len(violating) > 0 && len(other) > 0 {
		sort.SliceStable(victims, func(i, j int) bool { return moreImportant(victims[i], victims[j], now) })
	}
	return victims, nViolating, nil
}

func (a *algorithm) removeFromSim(cs *cycleState, pi *podInfo, ni *nodeInfo, p *podInfo) {
	ni.removePod(p.uid)
	cs.affinity.updateWithPod(pi, p, ni.node, -1, cs.nsLabels)
	cs.spread.updateWithPod(cs, p, ni.node, -1)
}

func (a *algorithm) addToSim(cs *cycleState, pi *podInfo, ni *nodeInfo, p *podInfo) {
	ni.addPod(p)
	cs.affinity.updateWithPod(pi, p, ni.node, 1, cs.nsLabels)
	cs.spread.updateWithPod(cs, p, ni.node, 1)
}

// moreImportant orders pods by priority, then by start time (earlier first).
func moreImportant(p, q *podInfo, now time.Time) bool {
	if p.priority != q.priority {
		return p.priority > q.priority
	}
	return startTime(p, now).Before(startTime(q, now))
}

func startTime(p *podInfo, now time.Time) time.Time {
	if st := p.pod.Status.StartTime; st != nil {
		return st.Time
	}
	return now
}

// splitByPDB separates the pods whose eviction would exceed a
// PodDisruptionBudget's allowed disruptions, counting down each budget.
func splitByPDB(pods []*podInfo, pdbs []*policyv1.PodDisruptionBudget) (violating, other []*podInfo) {
	allowed := make([]int32, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
	}
	for _, p := range pods {
		bad := false
		if len(p.pod.Labels) > 0 {
			for i, pdb := range pdbs {
				if pdb.Namespace != p.pod.Namespace {
					continue
				}
				sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
				if err != nil || sel.Empty() || !sel.Matches(labels.Set(p.pod.Labels)) {
					continue
				}
				if _, done := pdb.Status.DisruptedPods[p.pod.Name]; done {
					continue
				}
				allowed[i]--
				if allowed[i] < 0 {
					bad = true
				}
			}
		}
		if bad {
			violating = append(violating, p)
		} else {
			other = append(other, p)
		}
	}
	return violating, other
}

// pickCandidate is upstream's pickOneNodeForPreemption: fewest PDB
// violations, then the lowest highest victim priority, the lowest sum of
// priorities, the fewest victims, the latest start among the most
// important victims; then the first.
func pickCandidate(cands []candidate, now time.Time) candidate {
	scorers := []func(c *candidate) int64{
		func(c *candidate) int64 { return -int64(c.pdbViolating) },
		func(c *candidate) int64 { return -int64(c.victims[0].priority) },
		func(c *candidate) int64 {
			var sum int64
			for _, v := range c.victims {
				sum += int64(v.priority) + int64(math.MaxInt32) + 1
			}
			return -sum
		},
		func(c *candidate) int64 { return -int64(len(c.victims)) },
		func(c *candidate) int64 { return earliestStart(c.victims, now).UnixNano() },
	}
	pool := cands
	for _, score := range scorers {
		var best []candidate
		bestScore := int64(math.MinInt64)
		for i := range pool {
			s := score(&pool[i])
			if s > bestScore {
				bestScore, best = s, best[:0]
			}
			if s == bestScore {
				best = append(best, pool[i])
			}
		}
		if len(best) == 1 {
			return best[0]
		}
		pool = best
	}
	return pool[0]
}

// earliestStart is the earliest start time among the highest-priority
// victims.
func earliestStart(victims []*podInfo, now time.Time) time.Time {
	top := victims[0].priority
	for _, v := range victims {
		top = max(top, v.priority)
	}
	earliest := time.Time{}
	for _, v := range victims {
		if v.priority != top {
			continue
		}
		if t := startTime(v, now); earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
	}
	return earliest
}
