// Package agent is kserver's node agent, the kubelet of a kserver node: it
// registers the Node and keeps its status, heartbeats with a Lease in
// kube-node-lease, runs one pod worker per pod bound to the node through the
// runtime contract (internal/runtime), and reports pod status and Events as
// the kubelet does, with upstream's reasons and messages.
//
// The parts, each in its own file:
//
//   - node.go, nodestatus.go, hostinfo.go: registration (labels, taints,
//     addresses, capacity, nodeInfo) and the status loop, which writes only
//     when something changed or nodeStatusReportFrequency (5 min) passed.
//   - lease.go: the heartbeat, renewed every 10 s for a 40 s lease.
//   - podworker.go: one worker per pod. A worker is a small state machine,
//     not a goroutine: a goroutine runs only while the pod has work (a sync
//     is pending), and timers (back-off, probes) are runtime timers, so an
//     idle node with thousands of simulated pods costs no goroutines.
//   - sync.go and the step files: a pod's lifecycle is an ordered list of
//     named steps, each with setup and teardown (step.go): sandbox →
//     network → volumes → init containers → containers (images are pulled
//     per container, just before it is created: image.go). Teardown runs the
//     list backwards.
//   - kill.go: graceful termination (grace period, then the pod is deleted
//     with grace 0 as the kubelet does, so `kubectl delete pod` returns).
//   - podstatus.go: phase, conditions and container statuses computed from
//     what the runtime reports, as the kubelet's generateAPIPodStatus.
//   - status.go: the status manager. It writes pods/status with a strategic
//     merge patch only when the computed status differs from the stored one.
//   - backoff.go, probes.go: crash-loop back-off (10 s doubling to 5 min,
//     reset after 10 min) and startup/readiness/liveness probes.
//   - fleet.go: many simulated nodes in one process (kserver sim) sharing one
//     client, one pod informer indexed by node and one event broadcaster.
//
// The agent talks to the API only through internal/client, and to the
// machine only through the interfaces of parts.go (runtime, images, network,
// volumes), so simulated nodes and real ones run the same code.
package agent
