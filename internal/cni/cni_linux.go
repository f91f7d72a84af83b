package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"kserver.dev/kserver/internal/netns"
)

// Network attaches and detaches pod sandboxes.
type Network struct {
	cfg    Config
	log    *slog.Logger
	cni    *libcni.CNIConfig
	podNet *libcni.NetworkConfigList
	// noPorts is podNet without portmap, for pods without hostPorts: one
	// plugin process fewer per attach and detach.
	noPorts  *libcni.NetworkConfigList
	loopback *libcni.NetworkConfigList
}

// New renders and parses the configuration; nothing runs yet.
func New(cfg Config, log *slog.Logger) (*Network, error) {
	cfg.defaults()
	podNet, lo, err := Render(cfg)
	if err != nil {
		return nil, err
	}
	n := &Network{cfg: cfg, log: log.With("component", "cni")}
	if n.podNet, err = libcni.ConfListFromBytes(podNet); err != nil {
		return nil, fmt.Errorf("cni: parse conflist: %w", err)
	}
	if n.noPorts, err = withoutPortmap(podNet); err != nil {
		return nil, err
	}
	if n.loopback, err = libcni.ConfListFromBytes(lo); err != nil {
		return nil, fmt.Errorf("cni: parse loopback conflist: %w", err)
	}
	n.cni = libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, cfg.CacheDir(), nil)
	return n, nil
}

// Conflist is the rendered configuration (to write where users look).
func (n *Network) Conflist() []byte { return n.podNet.Bytes }

func (n *Network) runtimeConf(a Attachment, ifName string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: a.ContainerID, NetNS: a.NetNS, IfName: ifName,
		// The bridge plugin refuses unknown CNI_ARGS unless told to
		// ignore them.
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", a.PodNamespace},
			{"K8S_POD_NAME", a.PodName}, {"K8S_POD_INFRA_CONTAINER_ID", a.ContainerID}, {"K8S_POD_UID", a.PodUID}}}
	if ifName != "lo" && len(a.PortMappings) > 0 {
		var pm []map[string]any
		for _, p := range a.PortMappings {
			m := map[string]any{"hostPort": int(p.HostPort), "containerPort": int(p.ContainerPort), "protocol": strings.ToLower(p.Protocol)}
			if p.HostIP != "" {
				m["hostIP"] = p.HostIP
			}
			pm = append(pm, m)
		}
		rt.CapabilityArgs = map[string]any{"portMappings": pm}
	}
	return rt
}

func (n *Network) inNode(fn func() error) error {
	if n.cfg.NetNSFd <= 0 {
		return fn()
	}
	ns, err := netns.Open(fmt.Sprintf("/proc/self/fd/%d", n.cfg.NetNSFd))
	if err != nil {
		return err
	}
	defer ns.Close()
	return ns.Do(fn)
}

func (a *Attachment) validate() error {
	if a.ContainerID == "" || a.NetNS == "" {
		return errors.New("cni: attachment without sandbox ID or network namespace")
	}
	if a.IfName == "" {
		a.IfName = "eth0"
	}
	for _, p := range a.PortMappings {
		if p.HostPort == 0 || p.ContainerPort == 0 {
			return fmt.Errorf("cni: pod %s/%s: hostPort and containerPort must be set", a.PodNamespace, a.PodName)
		}
		if pr := strings.ToLower(p.Protocol); pr != "tcp" && pr != "udp" && pr != "sctp" {
			return fmt.Errorf("cni: pod %s/%s: hostPort protocol %q", a.PodNamespace, a.PodName, p.Protocol)
		}
	}
	return nil
}

// Add attaches the sandbox: loopback up, then bridge + IPAM + hostPorts.
// A failed Add is rolled back with Del.
func (n *Network) Add(ctx context.Context, a Attachment) (Result, error) {
	if err := a.validate(); err != nil {
		return Result{}, err
	}
	var res Result
	err := n.inNode(func() error {
		// A namespace the runtime made has its loopback up already.
		if !loopbackUp(a.NetNS) {
			if _, err := n.cni.AddNetworkList(ctx, n.loopback, n.runtimeConf(a, "lo")); err != nil {
				return fmt.Errorf("loopback: %w", err)
			}
		}
		list := n.podNet
		if len(a.PortMappings) == 0 {
			list = n.noPorts
		}
		r, err := n.cni.AddNetworkList(ctx, list, n.runtimeConf(a, a.IfName))
		if err != nil {
			return err
		}
		res, err = convert(r)
		return err
	})
	if err != nil {
		if derr := n.Del(ctx, a); derr != nil {
			n.log.Warn("rollback of a failed attach failed", "container", a.ContainerID, "err", derr)
		}
		return Result{}, fmt.Errorf("cni: attach pod %s/%s: %w", a.PodNamespace, a.PodName, err)
	}
	return res, nil
}

func convert(r types.Result) (Result, error) {
	cur, err := types100.NewResultFromResult(r)
	if err != nil {
		return Result{}, fmt.Errorf("plugin result: %w", err)
	}
	var res Result
	for _, ip := range cur.IPs {
		addr, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok {
			continue
		}
		ones, _ := ip.Address.Mask.Size()
		res.IPs = append(res.IPs, netip.PrefixFrom(addr.Unmap(), ones))
		if gw, ok := netip.AddrFromSlice(ip.Gateway); ok {
			res.Gateway = append(res.Gateway, gw.Unmap())
		}
	}
	if len(res.IPs) == 0 {
		return Result{}, errors.New("the plugins returned no address")
	}
	return res, nil
}

// Del detaches the sandbox. It succeeds when the sandbox is already
// detached or its namespace is gone, so teardown can always be repeated.
func (n *Network) Del(ctx context.Context, a Attachment) error {
	if a.IfName == "" {
		a.IfName = "eth0"
	}
	if a.NetNS != "" {
		if _, err := os.Stat(a.NetNS); err != nil {
			a.NetNS = "" // gone: plugins release IPs and rules without it
		}
	}
	err := n.inNode(func() error {
		rt, lo := n.runtimeConf(a, a.IfName), n.runtimeConf(a, "lo")
		err := n.cni.DelNetworkList(ctx, n.delList(rt), rt)
		// The loopback plugin ran only if Add found the loopback down.
		if cached, cerr := n.cni.GetNetworkListCachedResult(n.loopback, lo); cerr != nil || cached != nil {
			err = errors.Join(err, n.cni.DelNetworkList(ctx, n.loopback, lo))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("cni: detach sandbox %s: %w", a.ContainerID, err)
	}
	return nil
}

// delList is the list an attachment is detached with: without portmap
// only when libcni's cache shows it was attached without (an attachment
// whose cache is gone gets the full list, so no hostPort rule stays).
func (n *Network) delList(rt *libcni.RuntimeConf) *libcni.NetworkConfigList {
	cached, _, err := n.cni.GetNetworkListCachedConfig(n.podNet, rt)
	if err == nil && cached != nil && !bytes.Contains(cached, []byte(`"portmap"`)) {
		return n.noPorts
	}
	return n.podNet
}

// withoutPortmap parses the pod network's conflist without its portmap
// plugin (same network name, so libcni's cache and IPAM are shared).
func withoutPortmap(conflist []byte) (*libcni.NetworkConfigList, error) {
	var list map[string]any
	if err := json.Unmarshal(conflist, &list); err != nil {
		return nil, fmt.Errorf("cni: conflist: %w", err)
	}
	plugins, _ := list["plugins"].([]any)
	kept := make([]any, 0, len(plugins))
	for _, p := range plugins {
		if m, ok := p.(map[string]any); !ok || m["type"] != "portmap" {
			kept = append(kept, p)
		}
	}
	list["plugins"] = kept
	b, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	out, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("cni: parse conflist without portmap: %w", err)
	}
	return out, nil
}

// loopbackUp reports whether the namespace at path has its loopback up.
func loopbackUp(path string) bool {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return false
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return false
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	return err == nil && lo.Attrs().Flags&net.FlagUp != 0
}

// Attachments lists the sandboxes libcni's cache says are attached, so a
// restarted agent can detach those it no longer knows.
func (n *Network) Attachments() ([]Attachment, error) { return n.AttachmentsOf("") }

// AttachmentsOf is Attachments of one sandbox (all when containerID is
// empty); only that sandbox's cache files are read.
func (n *Network) AttachmentsOf(containerID string) ([]Attachment, error) {
	cached, err := n.cni.GetCachedAttachments(containerID)
	if err != nil {
		return nil, fmt.Errorf("cni: read cache: %w", err)
	}
	var out []Attachment
	for _, c := range cached {
		if c.Network != n.cfg.Name {
			continue
		}
		a := Attachment{ContainerID: c.ContainerID, NetNS: c.NetNS, IfName: c.IfName}
		for _, kv := range c.CniArgs {
			switch kv[0] {
			case "K8S_POD_NAMESPACE":
				a.PodNamespace = kv[1]
			case "K8S_POD_NAME":
				a.PodName = kv[1]
			case "K8S_POD_UID":
				a.PodUID = kv[1]
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// Cleanup detaches every cached attachment whose sandbox ID is not in
// keep, and returns the IDs it removed.
func (n *Network) Cleanup(ctx context.Context, keep map[string]bool) ([]string, error) {
	atts, err := n.Attachments()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, a := range atts {
		if keep[a.ContainerID] {
			continue
		}
		if err := n.Del(ctx, a); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, a.ContainerID)
	}
	return removed, errors.Join(errs...)
}
