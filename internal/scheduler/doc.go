// Package scheduler assigns pending pods to nodes the way kube-scheduler's
// default profile does, for pods whose spec.schedulerName is
// "default-scheduler".
//
// The shape follows upstream: a scheduling queue (queue.go: an active heap
// ordered by priority, a back-off heap and a set of unschedulable pods that
// cluster events move back), a cache of node information kept up to date
// incrementally from informer events (cache.go, nodeinfo.go), one scheduling
// cycle per pod (cycle.go: pre-filter, filter, score, select, assume) and an
// asynchronous binding step through pods/binding (bind.go). Filters and
// scores are the default plugins — NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding,
// PodTopologySpread, InterPodAffinity; LeastAllocated, BalancedAllocation,
// ImageLocality — with upstream's weights, status codes and messages, so a
// pod that cannot be scheduled gets the same FailedScheduling event and
// PodScheduled condition a kube-scheduler would give it (failure.go).
// Preemption (preemption.go) chooses victims as upstream does.
//
// Nothing here deep-copies API objects in the hot path: informer objects are
// shared and never mutated; what a cycle needs from a pod or node is parsed
// once into podInfo and nodeInfo. See docs/scheduler.md.
package scheduler
