package scheduler

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

func (s *Scheduler) onNodeAdd(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.cache.mu.Lock()
	s.cache.setNode(node)
	s.cache.mu.Unlock()
	s.queue.onEvent(clusterEvent{kind: eventNodeAdd, node: node})
}

func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Node)
	node, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.cache.mu.Lock()
	s.cache.setNode(node)
	s.cache.mu.Unlock()
	if nodeChangeMatters(old, node) {
		s.queue.onEvent(clusterEvent{kind: eventNodeUpdate, oldNode: old, node: node})
	}
}

// nodeChangeMatters ignores heartbeats: only what a filter reads counts.
func nodeChangeMatters(old, n *corev1.Node) bool {
	return old.Spec.Unschedulable != n.Spec.Unschedulable ||
		!reflect.DeepEqual(old.Spec.Taints, n.Spec.Taints) ||
		!reflect.DeepEqual(old.Labels, n.Labels) ||
		!reflect.DeepEqual(old.Status.Allocatable, n.Status.Allocatable) ||
		!reflect.DeepEqual(old.Status.Images, n.Status.Images)
}

func (s *Scheduler) onNodeDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.cache.mu.Lock()
	s.cache.removeNode(node.Name)
	s.cache.mu.Unlock()
}

func (s *Scheduler) onPodAdd(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		s.podChanged(nil, pod)
	}
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if ok1 && ok2 {
		s.podChanged(old, pod)
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.queue.remove(pod.UID)
	s.cache.mu.Lock()
	removed := s.cache.removePod(pod.UID)
	s.cache.clearNomination(pod.UID)
	s.cache.mu.Unlock()
	if removed != nil {
		s.queue.onEvent(clusterEvent{kind: eventAssignedPodDelete, pod: pod})
	}
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// podChanged sorts a pod added or updated (old is nil for an add): bound
// pods go to the cache, pending pods of this scheduler to the queue, and
// finished pods leave both.
func (s *Scheduler) podChanged(old, pod *corev1.Pod) {
	switch {
	case terminal(pod):
		s.onPodDelete(pod)
	case pod.Spec.NodeName != "":
		s.queue.remove(pod.UID)
		pi := newPodInfo(pod, s.priorities.priority(pod))
		s.cache.mu.Lock()
		s.cache.setPod(pi)
		s.cache.mu.Unlock()
		kind := eventAssignedPodAdd
		if old != nil && old.Spec.NodeName != "" {
			kind = eventAssignedPodUpdate
		}
		s.queue.onEvent(clusterEvent{kind: kind, oldPod: old, pod: pod})
	case !s.responsible(pod) || pod.DeletionTimestamp != nil || len(pod.Spec.SchedulingGates) > 0:
		// Gated pods wait until their gates are removed (upstream's
		// SchedulingGates); the API server marks them SchedulingGated.
		s.queue.remove(pod.UID)
	default:
		pi := newPodInfo(pod, s.priorities.priority(pod))
		s.nominateFromStatus(pi)
		if old != nil && s.queue.has(pod.UID) {
			s.queue.update(pi, podSpecChanged(old, pod))
			return
		}
		s.cache.mu.Lock()
		assumed := s.cache.isAssumed(pod.UID)
		s.cache.mu.Unlock()
		if !assumed {
			s.queue.add(pi)
		}
	}
}

// nominateFromStatus records the node a pending pod's status names (set by
// an earlier preemption, maybe by a previous scheduler instance), so other
// pods leave room for it there. Nominations end when the pod is bound or
// deleted, or when preemption finds it cannot help.
func (s *Scheduler) nominateFromStatus(pi *podInfo) {
	n := pi.pod.Status.NominatedNodeName
	if n == "" {
		return
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	s.cache.nominate(pi, n)
}

// podSpecChanged reports an update that may change scheduling (not just
// status or bookkeeping), as upstream's isPodUpdated.
func podSpecChanged(old, pod *corev1.Pod) bool {
	return !reflect.DeepEqual(old.Spec, pod.Spec) || !reflect.DeepEqual(old.Labels, pod.Labels) ||
		!reflect.DeepEqual(old.Annotations, pod.Annotations)
}

func (s *Scheduler) onNamespaceUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Namespace)
	ns, ok2 := newObj.(*corev1.Namespace)
	if ok1 && ok2 && !reflect.DeepEqual(old.Labels, ns.Labels) {
		s.queue.onEvent(clusterEvent{kind: eventNamespaceChange})
	}
}
