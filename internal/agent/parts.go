package agent

import (
	"context"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/image"
	"kserver.dev/kserver/internal/runtime"
)

// Parts are what an agent drives on its machine. Runtime is required; a nil
// Images or Network gets the simulated one (simparts.go), a nil Volumes
// prepares no volumes. Real nodes pass *image.Store, a CNI-backed Network
// and a Volumes that mounts emptyDir, configMap, secret, … (issue 5).
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

// Volumes prepares a pod's volumes on the host (the volumes step).
type Volumes interface {
	// Setup makes every volume of the pod and returns the host path of
	// each by volume name.
	Setup(ctx context.Context, pod *corev1.Pod) (map[string]string, error)
	// Teardown removes them once the pod is gone; idempotent.
	Teardown(ctx context.Context, uid types.UID) error
}

// ProbeRunner runs one probe of a running container.
type ProbeRunner interface {
	// Probe returns whether the probe passed and, when not, the output or
	// error text the kubelet puts in the Unhealthy event.
	Probe(ctx context.Context, pod *corev1.Pod, container *corev1.Container, containerID string,
		probe *corev1.Probe) (ok bool, output string, err error)
}
