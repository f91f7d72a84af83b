package runtime

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultLogRoot is where pod logs live, as on every Kubernetes node.
const DefaultLogRoot = "/var/log/pods"

// SandboxConfig is what the agent knows about a pod when it makes the
// sandbox. The agent fills it from the Pod; the runtime never sees the Pod.
type SandboxConfig struct {
	// Name, Namespace and UID identify the pod; Attempt counts sandboxes
	// made for the same pod UID (0 first).
	Name      string
	Namespace string
	UID       string
	Attempt   uint32

	// Hostname is set in the sandbox's UTS namespace and written to the
	// /etc/hostname every container gets. Empty means Name.
	Hostname string
	// NetNSPath is the network namespace to join, typically one the agent
	// made and configured with CNI. Empty (and HostNetwork false) means the
	// runtime makes a private namespace, reported in SandboxStatus.NetNSPath
	// and removed with the sandbox.
	NetNSPath   string
	HostNetwork bool
	HostIPC     bool
	HostPID     bool
	// ShareProcessNamespace puts all containers of the pod in one PID
	// namespace (pod.spec.shareProcessNamespace).
	ShareProcessNamespace bool

	// DNS is written to the /etc/resolv.conf every container gets; nil
	// means a copy of the host's /etc/resolv.conf (dnsPolicy Default).
	DNS *DNSConfig
	// Sysctls are namespaced sysctls set in every container of the pod.
	Sysctls map[string]string

	// QOS and Resources shape the pod-level cgroup: the QoS class picks its
	// parent (kubepods, kubepods/burstable, kubepods/besteffort) and
	// Resources are the pod totals (CPU requests summed; limits only when
	// every container has one).
	QOS       QOSClass
	Resources Resources

	// LogDir holds the pod's container logs; empty means
	// LogDir(DefaultLogRoot, Namespace, Name, UID).
	LogDir string

	Labels      map[string]string
	Annotations map[string]string
}

// DNSConfig is the content of a pod's /etc/resolv.conf.
type DNSConfig struct {
	Servers  []string
	Searches []string
	Options  []string // "ndots:5", …
}

// QOSClass is the pod's Kubernetes QoS class.
type QOSClass string

const (
	QOSGuaranteed QOSClass = "Guaranteed"
	QOSBurstable  QOSClass = "Burstable"
	QOSBestEffort QOSClass = "BestEffort"
)

// SandboxState is whether the sandbox's namespaces are usable.
type SandboxState string

const (
	SandboxReady    SandboxState = "Ready"
	SandboxNotReady SandboxState = "NotReady"
)

// SandboxStatus is what the runtime reports about a sandbox.
type SandboxStatus struct {
	ID          string
	Name        string
	Namespace   string
	UID         string
	Attempt     uint32
	State       SandboxState
	CreatedAt   time.Time
	NetNSPath   string // "" for host network
	HostNetwork bool
	LogDir      string
	Labels      map[string]string
	Annotations map[string]string
}

// SortSandboxes orders sandboxes as ListSandboxes returns them: oldest
// first, ties by ID.
func SortSandboxes(s []SandboxStatus) {
	slices.SortFunc(s, func(a, b SandboxStatus) int { return byCreation(a.CreatedAt, b.CreatedAt, a.ID, b.ID) })
}

func byCreation(ta, tb time.Time, ida, idb string) int {
	if c := ta.Compare(tb); c != 0 {
		return c
	}
	return strings.Compare(ida, idb)
}

// LogDir is a pod's log directory: <root>/<namespace>_<name>_<uid>.
func LogDir(root, namespace, name, uid string) string {
	return filepath.Join(root, namespace+"_"+name+"_"+uid)
}

// LogPath is a container attempt's log file relative to its pod's log
// directory: <container>/<attempt>.log.
func LogPath(container string, attempt uint32) string {
	return filepath.Join(container, fmt.Sprintf("%d.log", attempt))
}

// Validate reports a config the runtime cannot use.
func (c *SandboxConfig) Validate() error {
	switch {
	case c.Name == "" || c.Namespace == "" || c.UID == "":
		return fmt.Errorf("sandbox needs a pod name, namespace and uid: %w", ErrInvalidConfig)
	case !safeName(c.Name) || !safeName(c.Namespace) || !safeName(c.UID):
		return fmt.Errorf("sandbox %s/%s: name, namespace and uid must not contain '/' or '_' or be '.'/'..': %w",
			c.Namespace, c.Name, ErrInvalidConfig)
	case c.HostNetwork && c.NetNSPath != "":
		return fmt.Errorf("sandbox %s/%s: host network and a network namespace path are exclusive: %w",
			c.Namespace, c.Name, ErrInvalidConfig)
	case c.HostPID && c.ShareProcessNamespace:
		return fmt.Errorf("sandbox %s/%s: hostPID and shareProcessNamespace are exclusive: %w",
			c.Namespace, c.Name, ErrInvalidConfig)
	}
	switch c.QOS {
	case "", QOSGuaranteed, QOSBurstable, QOSBestEffort:
	default:
		return fmt.Errorf("sandbox %s/%s: unknown QoS class %q: %w", c.Namespace, c.Name, c.QOS, ErrInvalidConfig)
	}
	return nil
}

// safeName is true for a string usable as one path element of a log path.
// Kubernetes names and UIDs never contain '/' or '_'; the '_' separates the
// three parts of a pod's log directory name.
func safeName(s string) bool {
	if s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r == '/' || r == '_' || r == 0 {
			return false
		}
	}
	return true
}
