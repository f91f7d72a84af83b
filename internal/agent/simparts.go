package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/image"
	"kserver.dev/kserver/internal/runtime"
)

// SimImages is the image service of simulated nodes: nothing is
// downloaded, but pull policies, events and node status behave as on a
// real node. An image is "pulled" in no time the first time a pod on the
// node needs it; its ID is derived from its name.
type SimImages struct {
	clock clock.PassiveClock

	mu     sync.Mutex
	images map[string]image.Image // by normalized reference
}

// NewSimImages returns an empty simulated image store.
func NewSimImages(c clock.PassiveClock) *SimImages {
	if c == nil {
		c = clock.RealClock{}
	}
	return &SimImages{clock: c, images: map[string]image.Image{}}
}

var _ Images = (*SimImages)(nil)

// Ensure applies the pull policy.
func (s *SimImages) Ensure(_ context.Context, req image.EnsureRequest) (image.Image, []image.Event, error) {
	var events []image.Event
	emit := func(typ, reason, format string, args ...any) {
		events = append(events, image.Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	ref, err := image.ParseReference(req.Image)
	if err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: %v", req.Image, err)
		emit(corev1.EventTypeWarning, image.EventInspectFailed, "%s", msg)
		emit(corev1.EventTypeWarning, image.EventFailed, "Error: %s", image.ReasonInvalidImageName)
		return image.Image{}, events, &image.PullError{Reason: image.ReasonInvalidImageName, Message: msg, Err: err}
	}
	policy := req.PullPolicy
	if policy == "" {
		policy = image.DefaultPullPolicy(req.Image)
	}
	name := ref.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	im, present := s.images[name]
	if present && policy != corev1.PullAlways {
		emit(corev1.EventTypeNormal, image.EventPulled, "Container image %q already present on machine", req.Image)
		return im, events, nil
	}
	if !present && policy == corev1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", req.Image)
		emit(corev1.EventTypeWarning, image.EventErrImageNeverPull, "%s", msg)
		emit(corev1.EventTypeWarning, image.EventFailed, "Error: %s", image.ReasonErrImageNeverPull)
		return image.Image{}, events, &image.PullError{Reason: image.ReasonErrImageNeverPull, Message: msg, Err: image.ErrNotFound}
	}
	emit(corev1.EventTypeNormal, image.EventPulling, "Pulling image %q", req.Image)
	if !present {
		sum := sha256.Sum256([]byte(name))
		digest := "sha256:" + hex.EncodeToString(sum[:])
		im = image.Image{ID: digest, RepoTags: []string{name}, RepoDigests: []string{ref.Name() + "@" + digest},
			Size: int64(1<<20 + int(sum[0])<<12), Created: s.clock.Now()}
	}
	im.LastUsed = s.clock.Now()
	s.images[name] = im
	emit(corev1.EventTypeNormal, image.EventPulled, "Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.",
		req.Image, time.Duration(0), time.Duration(0), im.Size)
	return im, events, nil
}

// ImageConfig of a simulated image: a shell, like busybox.
func (s *SimImages) ImageConfig(string) (image.ImageConfig, error) {
	return image.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}, nil
}

// NodeImages lists the "pulled" images, largest first, as the kubelet.
func (s *SimImages) NodeImages(max int) []corev1.ContainerImage {
	s.mu.Lock()
	out := make([]corev1.ContainerImage, 0, len(s.images))
	for _, im := range s.images {
		out = append(out, corev1.ContainerImage{Names: append(append([]string{}, im.RepoDigests...), im.RepoTags...), SizeBytes: im.Size})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].SizeBytes != out[j].SizeBytes {
			return out[i].SizeBytes > out[j].SizeBytes
		}
		return out[i].Names[0] < out[j].Names[0]
	})
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// SimNetwork gives simulated pods addresses from the node's pod CIDR
// (host-local IPAM without files): the first address is the gateway's, as
// on a bridge, and an address is reused only after its sandbox detached.
type SimNetwork struct {
	cidr func() netip.Prefix

	mu    sync.Mutex
	byID  map[string]netip.Addr // sandbox ID → address
	inUse map[netip.Addr]string
	last  netip.Addr
}

// NewSimNetwork allocates from the prefix cidr returns when asked.
func NewSimNetwork(cidr func() netip.Prefix) *SimNetwork {
	return &SimNetwork{cidr: cidr, byID: map[string]netip.Addr{}, inUse: map[netip.Addr]string{}}
}

var _ Network = (*SimNetwork)(nil)

// Attach returns the sandbox's address, allocating one if needed; a pod
// that already reported an address in the range (before an agent restart)
// keeps it.
func (n *SimNetwork) Attach(_ context.Context, pod *corev1.Pod, sb runtime.SandboxStatus) ([]netip.Addr, error) {
	if sb.HostNetwork {
		return nil, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if a, ok := n.byID[sb.ID]; ok {
		return []netip.Addr{a}, nil
	}
	prefix := n.cidr()
	if a, err := netip.ParseAddr(pod.Status.PodIP); err == nil && prefix.Contains(a) && n.inUse[a] == "" {
		return n.take(sb.ID, a), nil
	}
	if !prefix.Contains(n.last) {
		n.last = prefix.Addr().Next() // the gateway's
	}
	for a := n.last.Next(); a != n.last; a = a.Next() {
		if !prefix.Contains(a) || isBroadcast(prefix, a) {
			a = prefix.Addr().Next() // wraps to the gateway, skipped next round
			continue
		}
		if n.inUse[a] == "" {
			n.last = a
			return n.take(sb.ID, a), nil
		}
	}
	return nil, fmt.Errorf("no free address in %s for pod %s/%s", prefix, pod.Namespace, pod.Name)
}

func (n *SimNetwork) take(id string, a netip.Addr) []netip.Addr {
	n.byID[id] = a
	n.inUse[a] = id
	return []netip.Addr{a}
}

func isBroadcast(p netip.Prefix, a netip.Addr) bool {
	if !a.Is4() || p.Bits() >= 31 {
		return false
	}
	b := a.As4()
	host := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := uint32(1)<<(32-p.Bits()) - 1
	return host&mask == mask
}

// Detach frees the sandbox's address.
func (n *SimNetwork) Detach(_ context.Context, _ *corev1.Pod, sb runtime.SandboxStatus) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a, ok := n.byID[sb.ID]; ok {
		delete(n.byID, sb.ID)
		delete(n.inUse, a)
	}
	return nil
}
