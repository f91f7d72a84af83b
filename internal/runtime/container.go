package runtime

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// ContainerConfig is one container of a pod as the agent resolved it: the
// command is final (image entrypoint and cmd already merged with the pod's
// command and args), the environment is final, volumes are host paths the
// agent prepared.
type ContainerConfig struct {
	Name    string
	Attempt uint32 // restart count: 0 for the first run

	Image   string // as in the pod spec, reported back in status
	ImageID string
	Rootfs  Rootfs

	Command    []string
	Env        []string // "KEY=value"
	WorkingDir string
	User       User

	TTY       bool
	Stdin     bool
	StdinOnce bool

	Mounts    []Mount
	Security  Security
	Resources Resources
	// StopSignal is the signal StopContainer sends first ("SIGTERM" when
	// empty); an image's STOPSIGNAL goes here.
	StopSignal string

	// LogPath is relative to the sandbox's log directory; empty means
	// LogPath(Name, Attempt).
	LogPath string

	Labels      map[string]string
	Annotations map[string]string
}

// Rootfs is the container's root filesystem. Either Path is an existing
// directory (for example an overlay mount the image step made), or Mounts
// are mounted by the runtime in order on a directory of its own and
// unmounted when the container is removed, as containerd's snapshot mounts
// are.
type Rootfs struct {
	Path   string
	Mounts []RootfsMount
}

// RootfsMount is a mount(2) call: for overlay, Type "overlay", Source
// "overlay", Options {"lowerdir=…", "upperdir=…", "workdir=…"}.
type RootfsMount struct {
	Type    string
	Source  string
	Options []string
}

// User is who the process runs as. UID/GID from the security context win;
// otherwise Name is the image's USER ("name", "uid", "name:group",
// "uid:gid"), resolved in the rootfs's /etc/passwd and /etc/group.
type User struct {
	UID                *int64
	GID                *int64
	Name               string
	SupplementalGroups []int64
}

// MountType is how a Mount is made.
type MountType string

const (
	MountBind  MountType = "bind"
	MountTmpfs MountType = "tmpfs"
)

// Propagation is a mount's propagation mode (mountPropagation).
type Propagation string

const (
	PropagationPrivate         Propagation = "None"
	PropagationHostToContainer Propagation = "HostToContainer"
	PropagationBidirectional   Propagation = "Bidirectional"
)

// Mount puts a host path (or a fresh tmpfs) at a path in the container.
type Mount struct {
	ContainerPath string
	HostPath      string // unused for tmpfs
	Type          MountType
	ReadOnly      bool
	Propagation   Propagation
	SizeBytes     int64 // tmpfs size limit; 0 = the kernel default
}

// SeccompType selects a seccomp profile.
type SeccompType string

const (
	SeccompUnconfined     SeccompType = "Unconfined"
	SeccompRuntimeDefault SeccompType = "RuntimeDefault"
	SeccompLocalhost      SeccompType = "Localhost"
)

// Security is the container's effective securityContext.
type Security struct {
	Privileged bool
	// CapAdd and CapDrop use Kubernetes spelling ("NET_ADMIN", "ALL"), and
	// change the runtime's default set.
	CapAdd  []string
	CapDrop []string
	// ReadOnlyRootfs mounts the rootfs read-only.
	ReadOnlyRootfs bool
	// NoNewPrivileges is !allowPrivilegeEscalation.
	NoNewPrivileges bool
	// RunAsNonRoot makes creation fail when the resolved user is root.
	RunAsNonRoot bool
	Seccomp      SeccompType
	// SeccompProfile is the path of a Localhost profile (OCI JSON).
	SeccompProfile string
	// UnmaskedProc is procMount: Unmasked.
	UnmaskedProc bool
}

// Resources are requests and limits in Kubernetes units. Zero means unset.
type Resources struct {
	CPURequestMilli    int64
	CPULimitMilli      int64
	MemoryRequestBytes int64
	MemoryLimitBytes   int64
	PidsLimit          int64
	// OOMScoreAdj is the kubelet's per-QoS value; runtimes clamp it to
	// 0..1000 because a negative value needs CAP_SYS_RESOURCE.
	OOMScoreAdj int
}

// ContainerState is the lifecycle state of a container.
type ContainerState string

const (
	StateCreated ContainerState = "Created"
	StateRunning ContainerState = "Running"
	StateExited  ContainerState = "Exited"
)

// Reasons reported in ContainerStatus.Reason for exited containers, spelled
// as kubectl shows them.
const (
	ReasonCompleted  = "Completed"
	ReasonError      = "Error"
	ReasonOOMKilled  = "OOMKilled"
	ReasonStartError = "StartError"
	// ReasonUnknown: the runtime lost the process (its monitor died, or
	// the machine rebooted); the exit code is then 255.
	ReasonUnknown = "Unknown"
)

// ContainerStatus is what the runtime reports about a container.
type ContainerStatus struct {
	ID        string
	SandboxID string
	Name      string
	Attempt   uint32
	Image     string
	ImageID   string
	State     ContainerState
	PID       int // host PID of the main process while running
	ExitCode  int32
	Reason    string
	Message   string

	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time

	LogPath     string // absolute
	Labels      map[string]string
	Annotations map[string]string
}

// ContainerFilter selects containers; zero fields match everything.
type ContainerFilter struct {
	SandboxID string
	Name      string
	State     ContainerState
}

// Match reports whether s passes the filter.
func (f ContainerFilter) Match(s *ContainerStatus) bool {
	return (f.SandboxID == "" || f.SandboxID == s.SandboxID) &&
		(f.Name == "" || f.Name == s.Name) &&
		(f.State == "" || f.State == s.State)
}

// SortContainers orders containers as ListContainers returns them: oldest
// first, ties by ID.
func SortContainers(s []ContainerStatus) {
	slices.SortFunc(s, func(a, b ContainerStatus) int { return byCreation(a.CreatedAt, b.CreatedAt, a.ID, b.ID) })
}

// ExitReason is the reason upstream reports for an exit code.
func ExitReason(code int32, oomKilled bool) string {
	switch {
	case oomKilled:
		return ReasonOOMKilled
	case code == 0:
		return ReasonCompleted
	default:
		return ReasonError
	}
}

// Validate reports a config the runtime cannot use.
func (c *ContainerConfig) Validate() error {
	if c.Name == "" || !safeName(c.Name) {
		return fmt.Errorf("container name %q is not a valid name: %w", c.Name, ErrInvalidConfig)
	}
	if len(c.Command) == 0 || c.Command[0] == "" {
		return fmt.Errorf("container %s: no command given and the image has none: %w", c.Name, ErrInvalidConfig)
	}
	for _, e := range c.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("container %s: environment entry %q is not KEY=value: %w", c.Name, e, ErrInvalidConfig)
		}
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		return fmt.Errorf("container %s: working directory %q is not absolute: %w", c.Name, c.WorkingDir, ErrInvalidConfig)
	}
	for _, m := range c.Mounts {
		if !path.IsAbs(m.ContainerPath) {
			return fmt.Errorf("container %s: mount path %q is not absolute: %w", c.Name, m.ContainerPath, ErrInvalidConfig)
		}
		switch m.Type {
		case MountBind, "":
			if !path.IsAbs(m.HostPath) {
				return fmt.Errorf("container %s: mount %s: host path %q is not absolute: %w",
					c.Name, m.ContainerPath, m.HostPath, ErrInvalidConfig)
			}
		case MountTmpfs:
		default:
			return fmt.Errorf("container %s: mount %s: unknown type %q: %w", c.Name, m.ContainerPath, m.Type, ErrInvalidConfig)
		}
	}
	switch c.Security.Seccomp {
	case "", SeccompUnconfined, SeccompRuntimeDefault:
	case SeccompLocalhost:
		if !path.IsAbs(c.Security.SeccompProfile) {
			return fmt.Errorf("container %s: localhost seccomp profile %q is not an absolute path: %w",
				c.Name, c.Security.SeccompProfile, ErrInvalidConfig)
		}
	default:
		return fmt.Errorf("container %s: unknown seccomp type %q: %w", c.Name, c.Security.Seccomp, ErrInvalidConfig)
	}
	if c.LogPath != "" && (path.IsAbs(c.LogPath) || strings.Contains(c.LogPath, "..")) {
		return fmt.Errorf("container %s: log path %q must be relative to the pod's log directory: %w",
			c.Name, c.LogPath, ErrInvalidConfig)
	}
	return nil
}
