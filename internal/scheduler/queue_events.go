package scheduler

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
)

// eventKind is a cluster change that may make unschedulable pods fit.
type eventKind uint8

const (
	eventNodeAdd eventKind = iota
	eventNodeUpdate
	eventAssignedPodAdd
	eventAssignedPodUpdate
	eventAssignedPodDelete
	eventVolumeChange    // PersistentVolume, claim or StorageClass added or changed
	eventNamespaceChange // namespace labels changed
)

// clusterEvent is one change with the objects involved.
type clusterEvent struct {
	kind          eventKind
	oldNode, node *corev1.Node
	oldPod, pod   *corev1.Pod
}

// onEvent retries the unschedulable pods that the change may help, as
// upstream's queueing hints decide, and remembers the change for pods being
// scheduled right now.
func (q *queue) onEvent(ev clusterEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, qp := range q.unschedulable {
		if worthRetrying(ev, qp) {
			q.requeueLocked(qp)
		}
	}
	for _, qp := range q.inFlight {
		qp.pending |= helpedPlugins(ev, qp.info)
	}
}

// worthRetrying reports whether ev may help a pod rejected by qp.plugins (a
// pod rejected without a named plugin is retried on any event).
func worthRetrying(ev clusterEvent, qp *queuedPod) bool {
	if qp.plugins == 0 {
		return true
	}
	return helpedPlugins(ev, qp.info)&qp.plugins != 0
}

// helpedPlugins returns the plugins whose verdict on pi the event may
// change: upstream's EventsToRegister with their queueing hints.
func helpedPlugins(ev clusterEvent, pi *podInfo) pluginSet {
	var s pluginSet
	switch ev.kind {
	case eventNodeAdd, eventNodeUpdate:
		s = nodeChangeHelps(ev, pi)
	case eventAssignedPodDelete:
		s = pluginsOf(pluginNodeResourcesFit, pluginNodePorts, pluginPodTopologySpread, pluginInterPodAffinity)
	case eventAssignedPodAdd:
		s = pluginsOf(pluginPodTopologySpread, pluginInterPodAffinity)
	case eventAssignedPodUpdate:
		if ev.oldPod == nil || !reflect.DeepEqual(ev.oldPod.Labels, ev.pod.Labels) {
			s = pluginsOf(pluginPodTopologySpread, pluginInterPodAffinity)
		}
	case eventVolumeChange:
		s = pluginsOf(pluginVolumeBinding)
	case eventNamespaceChange:
		s = pluginsOf(pluginInterPodAffinity)
	}
	return s
}

// nodeChangeHelps applies the per-plugin hints for a node added or
// updated: each plugin says yes only if its verdict on that node may flip
// from no to yes.
func nodeChangeHelps(ev clusterEvent, pi *podInfo) pluginSet {
	n, old := ev.node, ev.oldNode
	pod := pi.pod
	var s pluginSet
	if !n.Spec.Unschedulable || tolerates(pod.Spec.Tolerations, &taintUnschedulable) {
		if old == nil || old.Spec.Unschedulable {
			s.add(pluginNodeUnschedulable)
		}
	}
	if pod.Spec.NodeName == "" || pod.Spec.NodeName == n.Name {
		s.add(pluginNodeName)
	}
	if !untoleratedTaint(n, pod.Spec.Tolerations) && (old == nil || untoleratedTaint(old, pod.Spec.Tolerations)) {
		s.add(pluginTaintToleration)
	}
	if old == nil || !reflect.DeepEqual(old.Labels, n.Labels) {
		if ok, _ := newRequiredAffinity(pod).Match(n); ok {
			s.add(pluginNodeAffinity)
		}
		s |= pluginsOf(pluginPodTopologySpread, pluginInterPodAffinity, pluginVolumeBinding)
	}
	if old == nil || !reflect.DeepEqual(old.Spec.Taints, n.Spec.Taints) {
		s.add(pluginPodTopologySpread)
	}
	if fitsEmptyNode(pi, n) && (old == nil || allocatableGrew(pi, old, n)) {
		s.add(pluginNodeResourcesFit)
	}
	if old == nil {
		s.add(pluginNodePorts)
	}
	return s
}

// allocatableGrew reports whether the node's allocatable grew in a resource
// the pod requests (or in pods).
func allocatableGrew(pi *podInfo, old, n *corev1.Node) bool {
	a, b := resourcesOf(old.Status.Allocatable), resourcesOf(n.Status.Allocatable)
	r := &pi.req
	if b.pods > a.pods {
		return true
	}
	if (r.milliCPU > 0 && b.milliCPU > a.milliCPU) || (r.memory > 0 && b.memory > a.memory) ||
		(r.ephemeral > 0 && b.ephemeral > a.ephemeral) {
		return true
	}
	for name, v := range r.scalar {
		if v > 0 && b.scalar[name] > a.scalar[name] {
			return true
		}
	}
	return false
}
