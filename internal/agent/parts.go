package agent

import (
	"context"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/image"
	"kserver.dev/kserver/internal/runtime"
)

// Parts are what an agent drives on its machine. Runtime is required; a nil
// Images or Network gets the simulated one (simparts.go), a nil Volumes
// prepares no volumes. Real nodes pass *image.Store (which also makes the
// containers' root file systems), a *CNINetwork, *HostVolumes and a
// *HostProber.
type Parts struct {
	Runtime runtime.Runtime
	Images  Images
	Network Network
	Volumes Volumes
	// Probes runs exec, httpGet, tcpSocket and grpc probes for runtimes that
	// do not answer probes themselves (runtime.Prober). nil with such a
	// runtime means probes are not run and count as successful.
	Probes ProbeRunner
}

// Images is the image step's service; *image.Store implements it.
type Images interface {
	// Ensure applies the pull policy and back-off; see image.Store.Ensure.
	Ensure(ctx context.Context, req image.EnsureRequest) (image.Image, []image.Event, error)
	// ImageConfig is the stored image's entrypoint, cmd, env, user, ….
	ImageConfig(ref string) (image.ImageConfig, error)
	// NodeImages is the list for Node status.images.
	NodeImages(max int) []corev1.ContainerImage
}

// Network attaches pod sandboxes to the pod network (the network step).
type Network interface {
	// Attach connects the sandbox and returns the pod's addresses. It is
	// called again for a sandbox that is already attached (after an agent
	// restart) and must then return the same addresses; pod is the current
	// object, whose status.podIPs hold what was reported before.
	Attach(ctx context.Context, pod *corev1.Pod, sandbox runtime.SandboxStatus) ([]netip.Addr, error)
	// Detach releases what Attach took; idempotent.
	Detach(ctx context.Context, pod *corev1.Pod, sandbox runtime.SandboxStatus) error
}

// Rootfs makes containers' root file systems from images; an Images that
// implements it (*image.Store) gives every container one.
type Rootfs interface {
	// PrepareRootfs mounts the root file system named id from an image and
	// returns its path; RemoveRootfs removes it.
	PrepareRootfs(ctx context.Context, id, image string) (string, error)
	RemoveRootfs(id string) error
	// Containers lists the root file systems that exist, by name.
	Containers() map[string]string
}

// Volumes prepares a pod's volumes on the host (the volumes step).
type Volumes interface {
	// Setup makes every volume of the pod (reading ConfigMaps, Secrets,
	// tokens and claims through src) and returns their host paths.
	Setup(ctx context.Context, pod *corev1.Pod, src VolumeSource) (PodVolumes, error)
	// Teardown removes them once the pod is gone; idempotent.
	Teardown(ctx context.Context, uid types.UID) error
	// PodUIDs lists the pods that have volumes on the host.
	PodUIDs() ([]types.UID, error)
	// PodDir is the folder of a pod's files (etc-hosts, volumes).
	PodDir(uid types.UID) string
}

// ProbeRunner runs probes and lifecycle hooks of running containers.
type ProbeRunner interface {
	// Probe runs one probe within timeout; a failed probe is a result
	// whose Output is the text of the kubelet's Unhealthy event, an error
	// means the probe could not be run.
	Probe(ctx context.Context, t ProbeTarget, probe *corev1.Probe, timeout time.Duration) (ProbeResult, error)
	// Hook runs a postStart or preStop handler; on failure it returns the
	// kubelet's message for it.
	Hook(ctx context.Context, t ProbeTarget, h *corev1.LifecycleHandler) (string, error)
}
