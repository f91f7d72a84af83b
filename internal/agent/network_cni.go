package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/cni"
	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/runtime"
)

// errNetworkNotReady is what the node's Ready condition and the pods'
// NetworkNotReady events say while the node has no pod network yet:
// containerd's words for a CNI configuration that is not there.
var errNetworkNotReady = errors.New("NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")

// CNIConfig configures the pod network of a real node.
type CNIConfig struct {
	// Dir is where IPAM state and libcni's cache live (<data-dir>/agent).
	Dir string
	// ConfDir receives the rendered conflist for people to read
	// (<data-dir>/agent/etc/cni/net.d); empty writes none.
	ConfDir string
	// PluginDirs default to /usr/lib/cni and /opt/cni/bin.
	PluginDirs []string
	// MTU of pod interfaces; 0 is the bridge plugin's default. The overlay
	// sets it to its uplink's MTU minus the encapsulation.
	MTU int
	// NetNSFd runs the plugins inside that network namespace: the bridge,
	// routes and hostPort rules are made there instead of in the agent's
	// own namespace (tests run a whole node inside a namespace they made).
	NetNSFd int
}

// CNINetwork is the pod network of a real node: internal/cni with the
// reference plugins (bridge cni0, host-local, portmap, loopback). It is
// configured once the Node has its spec.podCIDR(s) from node IPAM; until
// then Ready fails and the node is NotReady, as a kubelet without a CNI
// configuration. The sandbox's network namespace is the one the runtime
// made (SandboxStatus.NetNSPath).
type CNINetwork struct {
	cfg CNIConfig
	log *slog.Logger

	mu    sync.Mutex
	net   *cni.Network
	cidrs []netip.Prefix
}

// NewCNINetwork returns an unconfigured network; SetPodCIDRs configures it.
func NewCNINetwork(cfg CNIConfig, log *slog.Logger) *CNINetwork {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CNINetwork{cfg: cfg, log: log}
}

var _ Network = (*CNINetwork)(nil)

// Ready reports whether pods can be attached.
func (n *CNINetwork) Ready() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.net == nil {
		return errNetworkNotReady
	}
	return nil
}

// SetPodCIDRs (re)configures the network for the node's pod CIDRs and
// reports whether the configuration changed. The first time, before any
// pod can attach, it detaches every attachment an earlier run left whose
// sandbox is not in keep() (what a crash of kserver left behind).
func (n *CNINetwork) SetPodCIDRs(ctx context.Context, cidrs []netip.Prefix, keep func() (map[string]bool, error)) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.net != nil && slices.Equal(cidrs, n.cidrs) {
		return false, nil
	}
	cfg := cni.Config{PodCIDRs: cidrs, MTU: n.cfg.MTU, DataDir: n.cfg.Dir, PluginDirs: n.cfg.PluginDirs, NetNSFd: n.cfg.NetNSFd}
	net, err := cni.New(cfg, n.log)
	if err != nil {
		return false, err
	}
	if n.net == nil && keep != nil {
		k, err := keep()
		if err != nil {
			return false, err
		}
		removed, err := net.Cleanup(ctx, k)
		if len(removed) > 0 {
			n.log.Info("detached pod sandboxes an earlier run left", "sandboxes", len(removed))
		}
		if err != nil {
			n.log.Warn("detaching leftover pod sandboxes", "err", err)
		}
	}
	if n.cfg.ConfDir != "" {
		if err := writeConflist(n.cfg.ConfDir, net.Conflist()); err != nil {
			n.log.Warn("cannot write the CNI configuration for reading", "err", err)
		}
	}
	n.net, n.cidrs = net, slices.Clone(cidrs)
	n.log.Info("pod network configured", "podCIDRs", fmt.Sprint(cidrs))
	return true, nil
}

func writeConflist(dir string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".10-kserver.conflist.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "10-kserver.conflist"))
}

func (n *CNINetwork) current() (*cni.Network, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.net == nil {
		return nil, errNetworkNotReady
	}
	return n.net, nil
}

// Attach runs CNI ADD for the sandbox. A sandbox that is already attached
// (an agent restart, or a sync that did not finish) keeps the addresses
// it has in its namespace; one whose attachment is incomplete is detached
// and attached again.
func (n *CNINetwork) Attach(ctx context.Context, pod *corev1.Pod, sb runtime.SandboxStatus) ([]netip.Addr, error) {
	if sb.HostNetwork {
		return nil, nil
	}
	net, err := n.current()
	if err != nil {
		return nil, err
	}
	att := attachment(pod, sb)
	if cached, err := net.AttachmentsOf(sb.ID); err == nil {
		for _, c := range cached {
			if c.ContainerID != sb.ID {
				continue
			}
			if ips, err := namespaceAddrs(sb.NetNSPath, "eth0"); err == nil && len(ips) > 0 {
				return ips, nil
			}
			if err := net.Del(ctx, att); err != nil {
				return nil, err
			}
		}
	}
	res, err := net.Add(ctx, att)
	if err != nil {
		return nil, err
	}
	ips := make([]netip.Addr, 0, len(res.IPs))
	for _, p := range res.IPs {
		ips = append(ips, p.Addr())
	}
	return ips, nil
}

// Detach runs CNI DEL; it succeeds for a sandbox that is not attached.
func (n *CNINetwork) Detach(ctx context.Context, pod *corev1.Pod, sb runtime.SandboxStatus) error {
	if sb.HostNetwork {
		return nil
	}
	net, err := n.current()
	if err != nil {
		// Never configured: nothing can have been attached by this
		// process; leftovers of an earlier one go with Cleanup.
		return nil
	}
	return net.Del(ctx, attachment(pod, sb))
}

// attachment is the CNI view of a pod sandbox, with its hostPorts.
func attachment(pod *corev1.Pod, sb runtime.SandboxStatus) cni.Attachment {
	a := cni.Attachment{ContainerID: sb.ID, NetNS: sb.NetNSPath, PodNamespace: sb.Namespace, PodName: sb.Name, PodUID: sb.UID}
	if pod == nil {
		return a
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := strings.ToLower(string(p.Protocol))
				if proto == "" {
					proto = "tcp"
				}
				a.PortMappings = append(a.PortMappings, cni.PortMapping{HostPort: uint16(p.HostPort),
					ContainerPort: uint16(p.ContainerPort), Protocol: proto, HostIP: p.HostIP})
			}
		}
	}
	return a
}

// namespaceAddrs reads the global addresses of an interface inside a
// network namespace.
func namespaceAddrs(path, ifName string) ([]netip.Addr, error) {
	if path == "" {
		return nil, errors.New("no network namespace")
	}
	ns, err := netns.Open(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	var out []netip.Addr
	err = ns.Do(func() error {
		ifc, err := net.InterfaceByName(ifName)
		if err != nil {
			return err
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().IsGlobalUnicast() {
				out = append(out, p.Addr().Unmap())
			}
		}
		return nil
	})
	return out, err
}
