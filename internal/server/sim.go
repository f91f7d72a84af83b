package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"kserver.dev/kserver/internal/agent"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/runtime/sim"
)

// SimConfig is what `kserver sim` is told (flag names in comments).
type SimConfig struct {
	Server     string   // --server
	Token      string   // --token
	TokenFile  string   // --token-file
	DataDir    string   // --data-dir
	Nodes      int      // --nodes
	NamePrefix string   // --name-prefix: nodes are <prefix>-0 … <prefix>-<n-1>
	NodeLabels []string // --node-label (every node)
	NodeTaints []string // --node-taint (every node)
	Capacity   []string // --capacity name=quantity (cpu, memory, pods, ephemeral-storage, …)
	// PodCIDRBase gives node i the /24 at i×256 addresses from it for
	// simulated pod IPs while node IPAM has not given one (--pod-cidr-base).
	PodCIDRBase string
	// KubeletPort is where each node's HTTPS API listens on its address
	// (--kubelet-port; 0, the default, picks a free port per node).
	KubeletPort int
	Debug       bool // --debug
}

// DefaultSimConfig has kwok-like defaults.
func DefaultSimConfig() SimConfig {
	return SimConfig{DataDir: DefaultConfig().DataDir, Nodes: 1, NamePrefix: "sim", PodCIDRBase: "10.200.0.0/16"}
}

// Validate checks every value and names the flag of each bad one.
func (c SimConfig) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	a := AgentConfig{Server: c.Server, Token: c.Token, TokenFile: c.TokenFile, DataDir: c.DataDir, NodeName: c.NamePrefix + "-0",
		NodeLabels: c.NodeLabels, NodeTaints: c.NodeTaints, Runtime: "sim"}
	if err := a.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Nodes < 1 || c.Nodes > 65536 {
		bad("nodes", "%d is not between 1 and 65536", c.Nodes)
	}
	if msgs := validation.IsDNS1123Label(c.NamePrefix); len(msgs) > 0 {
		bad("name-prefix", "%q: %s", c.NamePrefix, strings.Join(msgs, "; "))
	}
	if _, err := parseCapacity(c.Capacity); err != nil {
		bad("capacity", "%v", err)
	}
	if p, err := netip.ParsePrefix(c.PodCIDRBase); err != nil || !p.Addr().Is4() || p.Bits() > 24 {
		bad("pod-cidr-base", "%q is not an IPv4 CIDR of /24 or larger", c.PodCIDRBase)
	}
	if c.KubeletPort < 0 || c.KubeletPort > 65535 {
		bad("kubelet-port", "%d is not a port number (0-65535)", c.KubeletPort)
	}
	return errors.Join(errs...)
}

// parseCapacity reads name=quantity items.
func parseCapacity(items []string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for _, s := range items {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want name=quantity (cpu=8, memory=32Gi, pods=110)", s)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// simNodeIP is node i's InternalIP: a loopback address (127.1.0.1, …), so
// that nothing ever sends traffic off the machine to a simulated node.
func simNodeIP(i int) netip.Addr {
	n := i + 1
	return netip.AddrFrom4([4]byte{127, 1 + byte(n>>16), byte(n >> 8), byte(n)})
}

// simPodCIDR is node i's fallback /24 from base.
func simPodCIDR(base netip.Prefix, i int) netip.Prefix {
	b := base.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 24)
}

// RunSim runs `kserver sim`: Nodes simulated nodes in this process, joined
// over HTTPS with one node identity (system:node:<prefix>) and sharing
// one client, one pod informer and one event broadcaster.
func RunSim(ctx context.Context, cfg SimConfig, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	token, err := readToken(cfg.Token, cfg.TokenFile)
	if err != nil {
		return err
	}
	rc, err := join(ctx, joinOptions{Server: cfg.Server, Token: token, Dir: filepath.Join(cfg.DataDir, "sim", cfg.NamePrefix),
		Identity: cfg.NamePrefix, QPS: -1})
	if err != nil {
		return err
	}
	set, err := client.New(rc)
	if err != nil {
		return err
	}
	capacity, _ := parseCapacity(cfg.Capacity)
	base := netip.MustParsePrefix(cfg.PodCIDRBase)
	ips := make([]net.IP, cfg.Nodes)
	for i := range ips {
		ips[i] = simNodeIP(i).AsSlice()
	}
	apis, err := openAgentAPIs(ctx, rc, filepath.Join(cfg.DataDir, "sim", cfg.NamePrefix), cfg.NamePrefix, ips, nil, cfg.KubeletPort)
	if err != nil {
		return err
	}
	agents := make([]*agent.Agent, 0, cfg.Nodes)
	for i := range cfg.Nodes {
		name := fmt.Sprintf("%s-%d", cfg.NamePrefix, i)
		acfg, err := agentConfig(name, simNodeIP(i), cfg.NodeLabels, cfg.NodeTaints, cfg.DataDir, "sim", logger)
		if err != nil {
			return err
		}
		acfg.Capacity, acfg.FallbackPodCIDR, acfg.KubeletPort = capacity, simPodCIDR(base, i), apis[i].port
		a, err := agent.New(acfg, set, agent.Parts{Runtime: sim.New(sim.Config{})})
		if err != nil {
			return err
		}
		agents = append(agents, a)
	}
	f, err := agent.NewFleet(set, agents, logger)
	if err != nil {
		return err
	}
	logger.Info("running simulated nodes", "server", cfg.Server, "nodes", cfg.Nodes, "prefix", cfg.NamePrefix)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return f.Run(gctx) })
	for i, a := range agents { // each node's HTTPS API (kubelet.go)
		g.Go(func() error { return servedBy(apis[i].ln, logger)(gctx, a) })
	}
	return g.Wait()
}
