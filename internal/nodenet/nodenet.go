package nodenet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/overlay"
)

// Config configures one node's network wiring.
type Config struct {
	// NodeName is this node's Node.
	NodeName string
	// NodeIP is its underlay address (--node-ip); with Iface it chooses
	// the overlay's uplink.
	NodeIP netip.Addr
	// ExternalIPs are the node's external addresses (--node-external-ip):
	// NodePorts answer on them too, even when no interface has them.
	ExternalIPs []netip.Addr
	// Backend is --flannel-backend: vxlan (default), host-gw or none.
	Backend overlay.Backend
	// Iface is --flannel-iface (optional).
	Iface string
	// ClusterCIDR is the pod network of the whole cluster (--cluster-cidr):
	// pod egress outside it is masqueraded, Service traffic from outside
	// it is masqueraded by the proxy.
	ClusterCIDR netip.Prefix
	// NetNS is the path of the node's network namespace; empty is the
	// process's own (tests run nodes inside namespaces they made).
	NetNS string
	// DisableProxy removes our Service table and programs none
	// (--disable proxy); DisableNetworkPolicy the same for NetworkPolicy
	// (--disable network-policy).
	DisableProxy, DisableNetworkPolicy bool
	// ResyncPeriod is how often the kernel state is checked and the
	// desired state recomputed from the informer caches (default 1 min).
	ResyncPeriod time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Backend == "" {
		c.Backend = overlay.VXLAN
	}
	if c.ResyncPeriod == 0 {
		c.ResyncPeriod = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration the wiring cannot run with.
func (c Config) Validate() error {
	c.defaults()
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("node name is required"))
	}
	switch c.Backend {
	case overlay.VXLAN, overlay.HostGW, overlay.None:
	default:
		errs = append(errs, fmt.Errorf("flannel backend %q: want vxlan, host-gw or none", c.Backend))
	}
	if !c.ClusterCIDR.IsValid() {
		errs = append(errs, errors.New("cluster CIDR is required"))
	}
	if !c.NodeIP.IsValid() && c.Iface == "" && c.Backend != overlay.None {
		errs = append(errs, errors.New("a node IP or an uplink interface is required"))
	}
	return errors.Join(errs...)
}

// Network is one node's network wiring. New builds it; Run runs it.
type Network struct {
	cfg Config
	set *client.Set
	inf *client.Informers
	log *slog.Logger

	svc *serviceDriver
	pol *policyDriver
}

// New builds the wiring for a node reaching the API through set. It
// shares the informers of inf (the node's DNS server reads the same
// Services and EndpointSlices) and registers what it needs in them; it
// starts nothing.
func New(cfg Config, set *client.Set, inf *client.Informers) (*Network, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("nodenet: %w", err)
	}
	n := &Network{cfg: cfg, set: set, inf: inf, log: cfg.Logger.With("component", "nodenet")}
	var err error
	if !cfg.DisableProxy {
		if n.svc, err = newServiceDriver(n); err != nil {
			return nil, err
		}
	}
	if !cfg.DisableNetworkPolicy {
		n.pol = newPolicyDriver(n)
	}
	return n, nil
}

// PodMTU is the MTU the pod network must use with this overlay (0 for
// the none backend: the CNI plugin's default). It is known before the
// node has a podCIDR, so the agent can configure CNI with it.
func (n *Network) PodMTU() (int, error) {
	fd, done, err := n.openNetNS()
	if err != nil {
		return 0, err
	}
	defer done()
	return overlay.PodMTU(overlay.Config{Backend: n.cfg.Backend, NodeIP: n.cfg.NodeIP, Iface: n.cfg.Iface, NetNSFd: fd})
}

// openNetNS opens Config.NetNS (fd 0: the process's own namespace).
func (n *Network) openNetNS() (int, func(), error) {
	if n.cfg.NetNS == "" {
		return 0, func() {}, nil
	}
	ns, err := netns.Open(n.cfg.NetNS)
	if err != nil {
		return 0, nil, fmt.Errorf("nodenet: %w", err)
	}
	return ns.Fd(), func() { _ = ns.Close() }, nil
}

// Run starts the informers and programs the overlay, the Service proxy
// and NetworkPolicies until ctx ends. A disabled proxy or policy
// enforcement has its table removed at start.
func (n *Network) Run(ctx context.Context) error {
	fd, done, err := n.openNetNS()
	if err != nil {
		return err
	}
	defer done()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.runOverlay(gctx, fd) })
	if n.svc != nil {
		g.Go(func() error { return n.svc.run(gctx, fd) })
	} else if err := n.cleanupProxy(fd); err != nil {
		n.log.Warn("removing the Service proxy table (--disable proxy)", "err", err)
	}
	if n.pol != nil {
		g.Go(func() error { return n.pol.run(gctx, fd) })
	} else if err := n.cleanupPolicies(fd); err != nil {
		n.log.Warn("removing the NetworkPolicy table (--disable network-policy)", "err", err)
	}
	n.inf.Start(gctx)
	return g.Wait()
}

// kicker coalesces change notifications: any number of kicks before the
// worker looks make one round of work.
type kicker chan struct{}

func newKicker() kicker { return make(kicker, 1) }

func (k kicker) kick() {
	select {
	case k <- struct{}{}:
	default:
	}
}

// handler kicks k on every event.
func (k kicker) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { k.kick() },
		UpdateFunc: func(any, any) { k.kick() },
		DeleteFunc: func(any) { k.kick() },
	}
}

// waitSynced waits for informers to list once; false when ctx ended.
func waitSynced(ctx context.Context, synced ...cache.InformerSynced) bool {
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

// retryDelay is how long a failed kernel update first waits before the
// next try; repeated failures wait up to maxRetryDelay.
const (
	retryDelay    = time.Second
	maxRetryDelay = 30 * time.Second
)

// Teardown removes everything the wiring made in the node's namespace:
// the overlay's device, routes and masquerade table, the Service table
// and the NetworkPolicy table (uninstall; a stopped Network leaves them
// so that a restart does not disturb traffic). What is gone already is
// not an error.
func Teardown(cfg Config) error {
	cfg.defaults()
	n := &Network{cfg: cfg, log: cfg.Logger.With("component", "nodenet")}
	fd, done, err := n.openNetNS()
	if err != nil {
		return err
	}
	defer done()
	var errs []error
	if cfg.Backend != overlay.None {
		// Teardown needs neither a podCIDR nor the uplink, but New
		// validates them: any will do.
		ip := cfg.NodeIP
		if !ip.Is4() {
			ip = netip.MustParseAddr("127.0.0.1")
		}
		ov, err := overlay.New(overlay.Config{Backend: cfg.Backend, NodeIP: ip,
			PodCIDR: netip.MustParsePrefix("10.255.255.0/24"), ClusterCIDR: netip.MustParsePrefix("10.255.0.0/16"), NetNSFd: fd}, n.log)
		if err == nil {
			err = ov.Teardown()
			ov.Close()
		}
		errs = append(errs, err)
	}
	errs = append(errs, n.cleanupProxy(fd), n.cleanupPolicies(fd))
	return errors.Join(errs...)
}
