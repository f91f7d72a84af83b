package scheduler

import (
	"errors"
	"math/rand"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Upstream's bounds on how many feasible nodes a cycle looks for.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// cycleState is what one scheduling attempt computes once for its pod and
// the filters read for every node.
type cycleState struct {
	pod          *podInfo
	nsLabels     nsLabeler
	nodeAffinity nodeAffinityState
	affinity     *affinityState
	spread       *spreadState
	volumes      *volumeState
}

// clone copies the parts a preemption simulation changes.
func (cs *cycleState) clone() *cycleState {
	c := *cs
	c.affinity = cs.affinity.clone()
	c.spread = cs.spread.clone()
	return &c
}

// filter runs the filters in the default profile's order and returns the
// first failure.
func (cs *cycleState) filter(ni *nodeInfo) *status {
	if st := filterNodeUnschedulable(cs, ni); st != nil {
		return st
	}
	if st := filterNodeName(cs, ni); st != nil {
		return st
	}
	if st := filterTaints(cs, ni); st != nil {
		return st
	}
	if st := filterNodeAffinity(cs, ni); st != nil {
		return st
	}
	if st := filterPorts(cs, ni); st != nil {
		return st
	}
	if st := filterFit(cs, ni); st != nil {
		return st
	}
	if st := cs.volumes.filter(ni); st != nil {
		return st
	}
	if st := filterSpread(cs, ni); st != nil {
		return st
	}
	return filterAffinity(cs, ni)
}

// algorithm is the part of the scheduler that decides: the cache, the
// nominated pods and the listers scoring needs. Its methods are called with
// the cache locked.
type algorithm struct {
	cache     *cache
	volumes   volumeLister
	spreading spreadSelector
	nsLabels  nsLabeler
	rand      *rand.Rand
	percent   int32
	nextStart int
}

// preFilter computes the cycle state for pi, or the status that makes the
// pod unschedulable on every node.
func (a *algorithm) preFilter(pi *podInfo) (*cycleState, *status) {
	cs := &cycleState{pod: pi, nsLabels: a.nsLabels}
	var st *status
	if cs.nodeAffinity, st = preFilterNodeAffinity(pi.pod); st != nil {
		return nil, st
	}
	if cs.volumes, st = preFilterVolumes(pi.pod, a.volumes); st != nil {
		return nil, st
	}
	nodes := a.cache.list
	if cs.spread, st = preFilterSpread(cs, nodes); st != nil {
		return nil, st
	}
	if cs.affinity, st = preFilterAffinity(cs, nodes); st != nil {
		return nil, st
	}
	return cs, nil
}

// schedule picks a node for pi, or returns a *fitError (with the cycle
// state, for preemption) or another error.
func (a *algorithm) schedule(pi *podInfo) (string, *cycleState, error) {
	all := a.cache.list
	if len(all) == 0 {
		return "", nil, errNoNodesAvailable
	}
	diag := newDiagnosis()
	cs, st := a.preFilter(pi)
	if st != nil {
		if !st.rejected() {
			return "", nil, st.err
		}
		diag.absent, diag.preFilterMsg = st, st.message()
		diag.addPlugin(st)
		return "", nil, &fitError{numAllNodes: len(all), diag: diag}
	}
	if nnn := pi.pod.Status.NominatedNodeName; nnn != "" {
		if ni := a.cache.nodes[nnn]; ni != nil && ni.node != nil && a.filterWithNominated(cs, ni).ok() {
			return nnn, cs, nil
		}
	}
	nodes := all
	if names := cs.nodeAffinity.nodeNames; names != nil {
		// NodeAffinity's pre-filter allows only the nodes named by
		// metadata.name terms; the others count as failing it.
		nodes = make([]*nodeInfo, 0, len(names))
		for n := range names {
			if ni := a.cache.nodes[n]; ni != nil && ni.node != nil {
				nodes = append(nodes, ni)
			}
		}
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].node.Name < nodes[j].node.Name })
		diag.absent = newStatus(codeUnresolvable, pluginNone, "node(s) didn't satisfy plugin(s) [NodeAffinity]")
		diag.plugins.add(pluginNodeAffinity)
	}
	feasible := a.findFeasible(cs, nodes, &diag, len(all))
	switch len(feasible) {
	case 0:
		return "", cs, &fitError{numAllNodes: len(all), diag: diag}
	case 1:
		return feasible[0].node.Name, cs, nil
	}
	return a.selectHost(a.score(cs, feasible)), cs, nil
}

// findFeasible filters nodes, starting where the previous cycle stopped so
// that every node gets its turn, until enough feasible nodes are found.
func (a *algorithm) findFeasible(cs *cycleState, nodes []*nodeInfo, diag *diagnosis, numAll int) []*nodeInfo {
	n := len(nodes)
	if n == 0 {
		return nil
	}
	want := a.numFeasibleNodesToFind(n)
	feasible := make([]*nodeInfo, 0, min(want, n))
	start := a.nextStart % n
	processed := 0
	for i := 0; i < n && len(feasible) < want; i++ {
		ni := nodes[(start+i)%n]
		processed++
		if st := a.filterWithNominated(cs, ni); st.ok() {
			feasible = append(feasible, ni)
		} else {
			diag.set(ni.node.Name, st)
		}
	}
	a.nextStart = (a.nextStart + processed) % numAll
	return feasible
}

// numFeasibleNodesToFind is upstream's: every node below 100 nodes, else a
// percentage (adaptive by default) but at least 100.
func (a *algorithm) numFeasibleNodesToFind(numAll int) int {
	if numAll < minFeasibleNodesToFind {
		return numAll
	}
	pct := a.percent
	if pct == 0 {
		pct = int32(50 - numAll/125)
		if pct < minFeasibleNodesPercentageToFind {
			pct = minFeasibleNodesPercentageToFind
		}
	}
	n := numAll * int(pct) / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// filterWithNominated filters ni as upstream's
// RunFilterPluginsWithNominatedPods: pods nominated to the node with at
// least the pod's priority are counted as if they ran there (they are about
// to), and the node must pass both with and without them.
func (a *algorithm) filterWithNominated(cs *cycleState, ni *nodeInfo) *status {
	nominated := a.cache.nominatedFor(ni.node.Name, cs.pod)
	if len(nominated) == 0 {
		return cs.filter(ni)
	}
	withNominated, csWith := ni.clone(), cs.clone()
	for _, np := range nominated {
		withNominated.addPod(np)
		csWith.affinity.updateWithPod(cs.pod, np, ni.node, 1, cs.nsLabels)
		csWith.spread.updateWithPod(csWith, np, ni.node, 1)
	}
	if st := csWith.filter(withNominated); st != nil {
		return st
	}
	return cs.filter(ni)
}

// selectHost picks the best score, breaking ties at random as upstream.
func (a *algorithm) selectHost(scores []nodeScore) string {
	best, ties := 0, 1
	for i := 1; i < len(scores); i++ {
		switch {
		case scores[i].total > scores[best].total:
			best, ties = i, 1
		case scores[i].total == scores[best].total:
			ties++
			if a.rand.Intn(ties) == 0 {
				best = i
			}
		}
	}
	return scores[best].name
}

// asFitError unwraps a *fitError.
func asFitError(err error) (*fitError, bool) {
	var fe *fitError
	ok := errors.As(err, &fe)
	return fe, ok
}

// namespaceLabels returns a nsLabeler reading the namespaces' labels through
// get (nil labels for an unknown namespace).
func namespaceLabels(get func(string) (*corev1.Namespace, error)) nsLabeler {
	return func(ns string) labels.Set {
		n, err := get(ns)
		if err != nil || n == nil {
			return nil
		}
		return n.Labels
	}
}
