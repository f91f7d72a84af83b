package scheduler

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

const reasonPorts = "node(s) didn't have free ports for the requested pod ports"

// filterPorts is NodePorts: the pod's host ports must be free on the node.
func filterPorts(cs *cycleState, ni *nodeInfo) *status {
	for _, want := range cs.pod.ports {
		for _, used := range ni.ports {
			if want.conflicts(used) {
				return newStatus(codeUnschedulable, pluginNodePorts, reasonPorts)
			}
		}
	}
	return nil
}

// filterFit is NodeResourcesFit: the node must have room for one more pod
// and for the pod's requests. Every insufficient resource is a reason; the
// status is unresolvable when the request exceeds the node's allocatable,
// so that preemption does not try.
func filterFit(cs *cycleState, ni *nodeInfo) *status {
	var reasons []string
	unresolvable := false
	if len(ni.pods)+1 > ni.allocatable.pods {
		reasons = append(reasons, "Too many pods")
	}
	req := &cs.pod.req
	if req.empty() {
		return fitStatus(reasons, unresolvable)
	}
	alloc, used := &ni.allocatable, &ni.requested
	check := func(want, have, inUse int64, reason string) {
		if want > 0 && want > have-inUse {
			reasons = append(reasons, reason)
			unresolvable = unresolvable || want > have
		}
	}
	check(req.milliCPU, alloc.milliCPU, used.milliCPU, "Insufficient cpu")
	check(req.memory, alloc.memory, used.memory, "Insufficient memory")
	check(req.ephemeral, alloc.ephemeral, used.ephemeral, "Insufficient ephemeral-storage")
	if len(req.scalar) > 0 {
		for _, name := range sortedScalars(req.scalar) {
			check(req.scalar[name], alloc.scalar[name], used.scalar[name], "Insufficient "+string(name))
		}
	}
	return fitStatus(reasons, unresolvable)
}

func fitStatus(reasons []string, unresolvable bool) *status {
	if len(reasons) == 0 {
		return nil
	}
	c := codeUnschedulable
	if unresolvable {
		c = codeUnresolvable
	}
	return newStatus(c, pluginNodeResourcesFit, reasons...)
}

func sortedScalars(m map[corev1.ResourceName]int64) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// fitsEmptyNode reports whether pod could fit node at all (its requests
// within the node's allocatable): the queueing hint for node events.
func fitsEmptyNode(pi *podInfo, node *corev1.Node) bool {
	alloc := resourcesOf(node.Status.Allocatable)
	if alloc.pods < 1 {
		return false
	}
	r := &pi.req
	if r.milliCPU > alloc.milliCPU || r.memory > alloc.memory || r.ephemeral > alloc.ephemeral {
		return false
	}
	for n, v := range r.scalar {
		if v > 0 && v > alloc.scalar[n] {
			return false
		}
	}
	return true
}
