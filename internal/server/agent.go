package server

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

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"kserver.dev/kserver/internal/agent"
	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/client"
)

// AgentConfig is what `kserver agent` is told (flag names in comments).
type AgentConfig struct {
	Server         string   // --server
	Token          string   // --token
	TokenFile      string   // --token-file
	DataDir        string   // --data-dir
	NodeName       string   // --node-name
	NodeIP         string   // --node-ip
	NodeExternalIP []string // --node-external-ip
	NodeLabels     []string // --node-label
	NodeTaints     []string // --node-taint
	Runtime        string   // --runtime
	// KubeletPort is where the node's HTTPS API listens on the node IP
	// (--kubelet-port; 0 picks a free port, advertised in the Node status).
	KubeletPort int
	// FlannelIface is the overlay's uplink (--flannel-iface; default: the
	// interface of the node IP). The backend comes from the server.
	FlannelIface string
	Debug        bool // --debug
}

// DefaultAgentConfig has the k3s-like defaults.
func DefaultAgentConfig() AgentConfig {
	d := DefaultConfig()
	return AgentConfig{DataDir: d.DataDir, NodeName: d.NodeName, Runtime: d.Runtime, KubeletPort: agent.DefaultKubeletPort}
}

// Validate checks every value and names the flag of each bad one.
func (c AgentConfig) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if c.Server == "" {
		bad("server", "is required (https://<server>:6443)")
	} else if !strings.HasPrefix(c.Server, "https://") {
		bad("server", "%q is not an https:// URL", c.Server)
	}
	if c.Token != "" && c.TokenFile != "" {
		bad("token-file", "give --token or --token-file, not both")
	}
	if !filepath.IsAbs(c.DataDir) {
		bad("data-dir", "%q is not an absolute path", c.DataDir)
	}
	if msgs := validation.IsDNS1123Subdomain(c.NodeName); len(msgs) > 0 {
		bad("node-name", "%q is not a valid node name: %s", c.NodeName, strings.Join(msgs, "; "))
	}
	if c.NodeIP != "" {
		if _, err := netip.ParseAddr(c.NodeIP); err != nil {
			bad("node-ip", "%q is not an IP address", c.NodeIP)
		}
	}
	for _, msg := range externalIPProblems(c.NodeExternalIP) {
		bad("node-external-ip", "%s", msg)
	}
	for _, l := range c.NodeLabels {
		if err := validateLabel(l); err != nil {
			bad("node-label", "%q: %v", l, err)
		}
	}
	for _, t := range c.NodeTaints {
		if err := validateTaint(t); err != nil {
			bad("node-taint", "%q: %v", t, err)
		}
	}
	if !slices.Contains([]string{"runc", "crun", "sim"}, c.Runtime) {
		bad("runtime", "%q is not one of runc, crun, sim", c.Runtime)
	}
	if c.KubeletPort < 0 || c.KubeletPort > 65535 {
		bad("kubelet-port", "%d is not a port number (0-65535)", c.KubeletPort)
	}
	return errors.Join(errs...)
}

// token is --token, or the content of --token-file.
func readToken(token, file string) (string, error) {
	if file == "" {
		return token, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// RunAgent runs `kserver agent` until ctx ends: it joins the cluster (or
// reuses the credentials of an earlier join) and runs the node agent.
func RunAgent(ctx context.Context, cfg AgentConfig, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	token, err := readToken(cfg.Token, cfg.TokenFile)
	if err != nil {
		return err
	}
	rc, err := join(ctx, joinOptions{Server: cfg.Server, Token: token, Dir: filepath.Join(cfg.DataDir, "agent"),
		Identity: cfg.NodeName, QPS: 50, Burst: 100})
	if err != nil {
		return err
	}
	set, err := client.New(rc)
	if err != nil {
		return err
	}
	acfg, err := agentConfig(cfg.NodeName, nodeAddress(cfg.NodeIP), cfg.NodeLabels, cfg.NodeTaints, cfg.DataDir, cfg.Runtime, logger)
	if err != nil {
		return err
	}
	acfg.NodeExternalIPs = externalIPs(cfg.NodeExternalIP)
	logger.Info("joined the cluster", "server", cfg.Server, "node", cfg.NodeName)
	apis, err := openAgentAPIs(ctx, rc, filepath.Join(cfg.DataDir, "agent"), cfg.NodeName, // kubelet.go
		[]net.IP{acfg.NodeIP.AsSlice()}, nil, cfg.KubeletPort)
	if err != nil {
		return err
	}
	acfg.KubeletPort = apis[0].port
	nn, err := agentNetwork(ctx, set, &acfg, cfg.FlannelIface, logger) // network.go
	if err != nil {
		return err
	}
	return runNodeAgent(ctx, acfg, set, nn, cfg.Runtime, cfg.DataDir, logger, servedBy(apis[0].ln, logger))
}

// runEmbeddedAgent is the node agent of `kserver server`, talking to the
// API server in-process as system:node:<name>.
func runEmbeddedAgent(ctx context.Context, cfg Config, api *apiserver.Server, nodeIP netip.Addr, local *localAgents, logger *slog.Logger) error {
	set, err := client.New(api.RestConfig(apiserver.User{Name: "system:node:" + cfg.NodeName, Groups: []string{nodesGroup}}))
	if err != nil {
		return err
	}
	acfg, err := agentConfig(cfg.NodeName, nodeIP, cfg.NodeLabels, cfg.NodeTaints, cfg.DataDir, cfg.Runtime, logger)
	if err != nil {
		return err
	}
	acfg.ControlPlane = true
	acfg.NodeExternalIPs = externalIPs(cfg.NodeExternalIP)
	if p, err := netip.ParsePrefix(cfg.ClusterCIDR); err == nil {
		acfg.FallbackPodCIDR = netip.PrefixFrom(p.Masked().Addr(), 24) // the first node's /24, as node IPAM gives it
	}
	acfg.ClusterDNS, _ = netip.ParseAddr(cfg.ClusterDNS)
	acfg.ClusterDomain, acfg.HostNetNS, acfg.LogRoot = cfg.ClusterDomain, cfg.Agent.NetNS, cfg.Agent.LogRoot
	return runNodeAgent(ctx, acfg, set, embeddedNetwork(cfg), cfg.Runtime, cfg.DataDir, logger, servedInMemory(local, cfg.NodeName, logger))
}

// agentConfig turns flag values into the agent's configuration.
func agentConfig(name string, ip netip.Addr, labels, taints []string, dataDir, rt string, logger *slog.Logger) (agent.Config, error) {
	l, err := agent.ParseLabels(labels)
	if err != nil {
		return agent.Config{}, err
	}
	var ts []corev1.Taint
	for _, s := range taints {
		t, err := agent.ParseTaint(s)
		if err != nil {
			return agent.Config{}, err
		}
		ts = append(ts, t)
	}
	return agent.Config{NodeName: name, NodeIP: ip, Labels: l, Taints: ts, DataDir: dataDir,
		Simulated: rt == "sim", Logger: logger,
		// The cluster's defaults; the embedded agent takes the server's flags.
		ClusterDNS: netip.MustParseAddr(DefaultConfig().ClusterDNS), ClusterDomain: DefaultConfig().ClusterDomain}, nil
}

// runNodeAgent opens the runtime and runs one agent with it.
func runNodeAgent(ctx context.Context, acfg agent.Config, set *client.Set, nn nodeNetwork, rtName, dataDir string, logger *slog.Logger,
	serveAPI func(context.Context, *agent.Agent) error) error {
	g, gctx := errgroup.WithContext(ctx)
	parts, err := openParts(gctx, g, rtName, dataDir, &acfg, set, nn, logger) // agentparts.go
	if err != nil {
		return err
	}
	a, err := agent.New(acfg, set, parts)
	if err != nil {
		return err
	}
	g.Go(func() error { return a.Run(gctx) })
	g.Go(func() error { return serveAPI(gctx, a) }) // the node's HTTPS API (kubelet.go)
	return g.Wait()
}
