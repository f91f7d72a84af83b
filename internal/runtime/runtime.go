package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Implementations wrap them with %w and name the object;
// callers test them with errors.Is.
var (
	// ErrNotFound: no sandbox or container with that ID.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a sandbox for the same pod UID and attempt, or a
	// container with the same name and attempt in a sandbox, exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidConfig: the config cannot be run (empty command, bad mount,
	// runAsNonRoot with a root user, …). The agent reports it as
	// CreateContainerConfigError and does not retry until the spec changes.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrNotRunning: exec, attach or port-forward on something that is not
	// running, or start of a container that is not in the created state.
	ErrNotRunning = errors.New("not running")
	// ErrSandboxNotReady: a container was created or started in a sandbox
	// that has been stopped.
	ErrSandboxNotReady = errors.New("sandbox is not ready")
	// ErrUnsupported: the runtime cannot do this (for example attach to a
	// container created without Stdin, or a feature the host lacks).
	ErrUnsupported = errors.New("not supported")
)

// Runtime is everything the agent needs from a container runtime.
type Runtime interface {
	Info(ctx context.Context) (Info, error)
	Sandboxes
	Containers
	Streams
	Stats
}

// Info names the runtime for Node.status.nodeInfo.containerRuntimeVersion
// ("<Name>://<Version>").
type Info struct {
	Name    string // "runc", "crun", "sim"
	Version string
}

// Sandboxes is the pod-sandbox half of the contract.
type Sandboxes interface {
	// CreateSandbox makes the shared namespaces, files and pod cgroup and
	// returns the sandbox ID. ErrAlreadyExists when a sandbox for the same
	// pod UID and attempt exists.
	CreateSandbox(ctx context.Context, cfg SandboxConfig) (string, error)
	// StopSandbox kills every container of the sandbox that still runs
	// (SIGKILL; graceful stops are the agent's, one container at a time) and
	// releases what holds the namespaces, except a network namespace the
	// caller supplied. Idempotent.
	StopSandbox(ctx context.Context, id string) error
	// RemoveSandbox stops the sandbox, removes its containers and
	// everything the runtime made for it. Log files stay (they belong to
	// the pod, not the sandbox). Removing an unknown ID is not an error.
	RemoveSandbox(ctx context.Context, id string) error
	SandboxStatus(ctx context.Context, id string) (SandboxStatus, error)
	ListSandboxes(ctx context.Context) ([]SandboxStatus, error)
}

// Containers is the container half of the contract.
type Containers interface {
	// CreateContainer records the container (state Created) and returns its
	// ID; nothing runs yet. ErrInvalidConfig for a config that cannot run.
	CreateContainer(ctx context.Context, sandboxID string, cfg ContainerConfig) (string, error)
	// StartContainer runs a created container. When the process cannot be
	// started the error says why and the container becomes Exited with
	// reason StartError and exit code 128, as upstream reports it.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends the stop signal, waits up to grace for the
	// container to exit, then sends SIGKILL and waits for the exit. It
	// returns once the container has exited. Stopping a container that is
	// not running is not an error.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer kills the container if it still runs and forgets it.
	// Its log file stays. Removing an unknown ID is not an error.
	RemoveContainer(ctx context.Context, id string) error
	ContainerStatus(ctx context.Context, id string) (ContainerStatus, error)
	// ListContainers returns containers matching the filter, oldest first.
	ListContainers(ctx context.Context, f ContainerFilter) ([]ContainerStatus, error)
	// Watch delivers a hint each time a container is started, exits or is
	// removed, until ctx ends. Events for one container may coalesce; the
	// agent re-reads status. The runtime never blocks on a slow watcher.
	Watch(ctx context.Context) <-chan Event
}

// Streams is the interactive half: logs, exec, attach, port-forward.
type Streams interface {
	// Logs writes the container's log (or, with Previous, the log of the
	// attempt before it) to w in the requested form; with Follow it returns
	// when the container has exited and everything is written, or ctx ends.
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
	// Exec runs a command in a running container and returns its exit
	// code. ctx ending kills the command.
	Exec(ctx context.Context, id string, opts ExecOptions) (int, error)
	// Attach connects to the main process's stdio until the container
	// exits, the output ends or ctx ends.
	Attach(ctx context.Context, id string, opts AttachOptions) error
	// PortForward connects stream to TCP port on the sandbox's loopback
	// (inside its network namespace) and copies both ways until either side
	// closes.
	PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error
}

// Stats is resource usage for `kubectl top`.
type Stats interface {
	ContainerStats(ctx context.Context, id string) (Usage, error)
	// SandboxStats is the usage of the whole pod (its pod-level cgroup).
	SandboxStats(ctx context.Context, id string) (Usage, error)
}

// Prober is implemented by runtimes whose containers cannot be probed over
// the network or by exec (runtime/sim). An agent whose runtime implements it
// asks Probe instead of running the pod's probes itself.
type Prober interface {
	Probe(ctx context.Context, containerID string, kind ProbeKind) (bool, error)
}

// ProbeKind names the three kinds of container probe.
type ProbeKind string

const (
	ProbeStartup   ProbeKind = "Startup"
	ProbeReadiness ProbeKind = "Readiness"
	ProbeLiveness  ProbeKind = "Liveness"
)

// Usage is a point-in-time sample. CPU is cumulative, so the agent computes
// a rate from two samples, as the metrics pipeline does upstream.
type Usage struct {
	Timestamp time.Time
	// CPUUsageNanos is the CPU time used since the container (or pod)
	// started, in nanoseconds.
	CPUUsageNanos uint64
	// MemoryWorkingSetBytes is usage minus inactive file cache, the figure
	// `kubectl top` shows and the kubelet evicts on.
	MemoryWorkingSetBytes uint64
	MemoryUsageBytes      uint64
	MemoryRSSBytes        uint64
}

// CheckResult is one host check for `kserver check-config`.
type CheckResult struct {
	Name string // "runc", "memory cgroup", …
	OK   bool
	// Message says what was found, and when not OK what to do about it.
	Message string
}

// Preparer is implemented by runtimes whose container start has a slow
// part that needs nothing the agent still does between create and start
// (runtime/oci: the monitor and the OCI runtime's create, which need the
// sandbox's namespaces but not the addresses in them). PrepareContainer
// does that part for a Created container, whose process then exists but
// waits; StartContainer releases it. The container stays Created until
// started, and RemoveContainer removes it as any other. A failure leaves
// the container Exited with StartError, as a failed StartContainer does.
// StartContainer on a container that was not prepared does both parts.
type Preparer interface {
	PrepareContainer(ctx context.Context, id string) error
}
