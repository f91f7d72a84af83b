package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kserver.dev/kserver/internal/agent"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/dns"
	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/nodenet"
	"kserver.dev/kserver/internal/overlay"
)

// The cluster network on every node (see docs/network.md): the overlay,
// the Service proxy and NetworkPolicy enforcement (internal/nodenet), and
// the node's DNS server (internal/dns) on the node address, port 53,
// which the kube-dns Service reaches through the proxy.

// nodeNetwork is what a node's network runs with: the server's flags for
// the embedded agent, the kube-system/kserver-network ConfigMap for
// `kserver agent`.
type nodeNetwork struct {
	Backend       string // --flannel-backend
	Iface         string // --flannel-iface
	ClusterCIDR   netip.Prefix
	ClusterDNS    netip.Addr
	ClusterDomain string
	// Off lists the disabled parts: "proxy", "network-policy", "dns".
	Off map[string]bool
	// NetNS is the node's network namespace (tests); empty is ours.
	NetNS string
}

// embeddedNetwork is the network of the server's own node.
func embeddedNetwork(cfg Config) nodeNetwork {
	nn := nodeNetwork{Backend: cfg.FlannelBackend, Iface: cfg.FlannelIface, ClusterDomain: cfg.ClusterDomain,
		Off: map[string]bool{}, NetNS: cfg.Agent.NetNS}
	nn.ClusterCIDR, _ = netip.ParsePrefix(cfg.ClusterCIDR)
	nn.ClusterDNS, _ = netip.ParseAddr(cfg.ClusterDNS)
	for _, d := range []string{"proxy", "network-policy", "dns"} {
		nn.Off[d] = cfg.Disabled(d)
	}
	return nn
}

// startNodeNetwork starts the node's network wiring and DNS server in g
// and returns the MTU pods get. Nothing runs for simulated nodes.
func startNodeNetwork(ctx context.Context, g *errgroup.Group, nn nodeNetwork, acfg *agent.Config, set *client.Set,
	logger *slog.Logger) (int, error) {
	inf := client.NewInformers(set, 0)
	nw, err := nodenet.New(nodenet.Config{
		NodeName: acfg.NodeName, NodeIP: acfg.NodeIP, ExternalIPs: acfg.NodeExternalIPs,
		Backend: overlay.Backend(nn.Backend), Iface: nn.Iface,
		ClusterCIDR: nn.ClusterCIDR, NetNS: nn.NetNS,
		DisableProxy: nn.Off["proxy"], DisableNetworkPolicy: nn.Off["network-policy"], Logger: logger,
	}, set, inf)
	if err != nil {
		return 0, err
	}
	mtu, err := nw.PodMTU()
	if err != nil {
		return 0, err
	}
	g.Go(func() error { return nw.Run(ctx) })
	if nn.Off["dns"] || !acfg.NodeIP.IsValid() {
		return mtu, nil
	}
	dcfg := nodeDNSConfig(nn, acfg.NodeIP)
	dcfg.AllowFrom = append(dcfg.AllowFrom, localAddrs(nn.NetNS, logger)...)
	srv, err := dns.New(dcfg, inf, logger)
	if err != nil {
		return 0, err
	}
	g.Go(func() error {
		// A node whose port 53 is taken keeps running; its pods then have
		// no cluster DNS, which the log says.
		if err := srv.Run(ctx); err != nil {
			logger.Error("the node's DNS server stopped; pods on this node cannot resolve names", "err", err)
		}
		return nil
	})
	return mtu, nil
}

// nodeDNSConfig listens on the node address, port 53, answering the pod
// network and the node itself only (not an open resolver on the LAN).
func nodeDNSConfig(nn nodeNetwork, nodeIP netip.Addr) dns.Config {
	allow := []netip.Prefix{netip.PrefixFrom(nodeIP, nodeIP.BitLen()), netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if nn.ClusterCIDR.IsValid() {
		allow = append(allow, nn.ClusterCIDR)
	}
	return dns.Config{
		Domain: nn.ClusterDomain, ClusterDNS: []netip.Addr{nn.ClusterDNS},
		Listen:    []string{net.JoinHostPort(nodeIP.String(), "53")},
		AllowFrom: allow, NetNS: nn.NetNS,
	}
}

// localAddrs are the node's own addresses at start (host processes ask
// the cluster DNS from whichever address their route to 10.43.0.10
// picks), as host prefixes.
func localAddrs(nsPath string, logger *slog.Logger) []netip.Prefix {
	var out []netip.Prefix
	read := func() error {
		addrs, err := net.InterfaceAddrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					ip = ip.Unmap()
					out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
				}
			}
		}
		return err
	}
	var err error
	if nsPath == "" {
		err = read()
	} else {
		var ns *netns.NS
		if ns, err = netns.Open(nsPath); err == nil {
			err = ns.Do(read)
			_ = ns.Close()
		}
	}
	if err != nil {
		logger.Warn("listing the node's addresses for the DNS server", "err", err)
	}
	return out
}

// The ConfigMap in which the server tells agents the cluster's network.
const (
	networkConfigMap = "kserver-network"
	networkNamespace = "kube-system"
)

// networkData is the ConfigMap's content for the server's flags.
func networkData(cfg Config) map[string]string {
	return map[string]string{
		"cluster-cidr": cfg.ClusterCIDR, "service-cidr": cfg.ServiceCIDR, "flannel-backend": cfg.FlannelBackend,
		"cluster-dns": cfg.ClusterDNS, "cluster-domain": cfg.ClusterDomain,
		"disable-network-policy": strconv.FormatBool(cfg.Disabled("network-policy")),
		"disable-proxy":          strconv.FormatBool(cfg.Disabled("proxy")),
		"disable-dns":            strconv.FormatBool(cfg.Disabled("dns")),
	}
}

// agentNetwork reads the cluster's network from the server's ConfigMap,
// waiting for it (a server that just started writes it at once). It
// also sets the agent's cluster DNS and domain from it.
func agentNetwork(ctx context.Context, set *client.Set, acfg *agent.Config, iface string, logger *slog.Logger) (nodeNetwork, error) {
	var cm *corev1.ConfigMap
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		cm, err = set.ConfigMaps(networkNamespace).Get(ctx, networkConfigMap, metav1.GetOptions{})
		if err != nil {
			logger.Info("waiting for the cluster network configuration", "configmap", networkNamespace+"/"+networkConfigMap, "err", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return nodeNetwork{}, err
	}
	d := cm.Data
	nn := nodeNetwork{Backend: d["flannel-backend"], Iface: iface, ClusterDomain: d["cluster-domain"], Off: map[string]bool{}}
	if nn.ClusterCIDR, err = netip.ParsePrefix(d["cluster-cidr"]); err != nil {
		return nodeNetwork{}, fmt.Errorf("configmap %s/%s: cluster-cidr: %w", networkNamespace, networkConfigMap, err)
	}
	if nn.ClusterDNS, err = netip.ParseAddr(d["cluster-dns"]); err != nil {
		return nodeNetwork{}, fmt.Errorf("configmap %s/%s: cluster-dns: %w", networkNamespace, networkConfigMap, err)
	}
	for _, k := range []string{"proxy", "network-policy", "dns"} {
		nn.Off[k] = d["disable-"+k] == "true"
	}
	acfg.ClusterDNS, acfg.ClusterDomain = nn.ClusterDNS, nn.ClusterDomain
	return nn, nil
}

// ensureNetworkConfigMap writes the ConfigMap agents read.
func ensureNetworkConfigMap(ctx context.Context, set *client.Set, cfg Config) error {
	api := set.ConfigMaps(networkNamespace)
	want := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: networkConfigMap, Namespace: networkNamespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "kserver"}}, Data: networkData(cfg)}
	cur, err := api.Get(ctx, networkConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = api.Create(ctx, want, metav1.CreateOptions{FieldManager: "kserver"})
	case err == nil && !equalData(cur.Data, want.Data):
		cur.Data = want.Data
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "kserver"})
	}
	if err != nil {
		return fmt.Errorf("configmap %s/%s: %w", networkNamespace, networkConfigMap, err)
	}
	return nil
}

func equalData(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
