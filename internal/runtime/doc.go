// Package runtime is the contract between the node agent and the thing that
// runs containers. It holds interfaces and the small value types the agent
// fills from a Pod; it runs nothing itself. Two implementations exist:
// runtime/oci (runc or crun, one conmon monitor per container) and
// runtime/sim (containers that "run" without processes, scripted by pod
// annotations). runtime/runtimetest is the conformance suite both pass.
//
// The shape follows CRI's split between pod sandboxes and containers, cut
// down to what kserver's agent uses, with Go values instead of gRPC:
//
//   - A sandbox holds what a pod's containers share: the network namespace
//     (made and wired by the agent's CNI step and passed in as a path, or
//     made by the runtime when the caller passes none), the IPC and UTS
//     namespaces (hostname), optionally a PID namespace, /etc/hostname and
//     /etc/resolv.conf, the pod-level cgroup and the pod's log directory.
//   - A container is created (its config is fixed), started, stopped with a
//     grace period (stop signal, then SIGKILL) and removed. Its status
//     carries state, exit code, reason (Completed, Error, OOMKilled,
//     StartError, Unknown), times and PID.
//   - The runtime keeps its own state on disk, so a new Runtime value over
//     the same directories re-adopts what is running (a kserver restart);
//     ListSandboxes and ListContainers are how the agent finds it again.
//   - Watch delivers hints ("this container changed"); the agent re-reads
//     status, so events may coalesce and are never required for
//     correctness.
//   - Logs are CRI-format files under LogDir (package runtime/crilog reads
//     and writes the format); exec, attach and port-forward take plain
//     io.Reader/io.Writer streams so the agent's streaming server can wire
//     them to SPDY or WebSocket without the runtime knowing either.
//
// Optional behaviour is expressed as optional interfaces checked with a type
// assertion (Prober), as net/http does with Flusher.
package runtime
