// Package nodelifecycle holds two controllers of upstream's node
// lifecycle:
//
// The node controller (Controller, event source "node-controller")
// watches each node's heartbeats — its Lease in kube-node-lease and its
// Ready condition's lastHeartbeatTime — measured against the local clock
// as upstream does, so clock skew between machines does not matter. A node
// silent for longer than the grace period (50 s, upstream's
// --node-monitor-grace-period since 1.32; 60 s for a node that never
// reported) gets its Ready, MemoryPressure, DiskPressure and PIDPressure
// conditions set to Unknown with reason NodeStatusUnknown "Kubelet stopped
// posting node status." (NodeStatusNeverUpdated when it never posted),
// the Event NodeNotReady, and its pods' Ready condition set to False (each
// with the Event NodeNotReady "Node is not ready"). It keeps the
// node.kubernetes.io/not-ready and unreachable NoExecute taints in step
// with the Ready condition, the condition-based NoSchedule taints
// (not-ready, unreachable, memory-pressure, disk-pressure, pid-pressure,
// network-unavailable) and node.kubernetes.io/unschedulable:NoSchedule
// while the node is cordoned, and the beta os/arch labels. It records
// RegisteredNode and RemovingNode Events. When every node is not ready it
// assumes the control plane, not the nodes, lost contact and takes the
// NoExecute taints off (upstream's full disruption mode), so a small
// cluster never evicts everything at once.
//
// Nothing polls: each heartbeat re-syncs its node, and a sync that finds
// the node healthy schedules its own next look for the moment the grace
// period would run out.
//
// The taint eviction controller (TaintEviction, event source
// "taint-eviction-controller") deletes pods from nodes with NoExecute
// taints they do not tolerate — at once, or tolerationSeconds after the
// taint was added (the API gives pods 300 s tolerations of not-ready and
// unreachable by default) — after marking them with the DisruptionTarget
// condition (DeletionByTaintManager), with the Events TaintManagerEviction
// "Marking for deletion Pod ns/name" and, when a taint goes before its
// time, "Cancelling deletion of Pod ns/name".
package nodelifecycle
