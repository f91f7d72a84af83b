package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"kserver.dev/kserver/internal/dns/resolvconf"
)

// PodMode says how names under <ns>.pod.<domain> are answered, as CoreDNS's
// `pods` option does.
type PodMode string

const (
	// PodsInsecure answers a-b-c-d.<ns>.pod.<domain> with a.b.c.d for any
	// existing namespace without checking a pod has that address (k3s's and
	// kubeadm's CoreDNS setting; needs no pod informer).
	PodsInsecure PodMode = "insecure"
	// PodsVerified answers only when a pod of that namespace has the
	// address; it keeps a small address index fed by the pod informer.
	PodsVerified PodMode = "verified"
	// PodsDisabled answers NXDOMAIN for every pod name.
	PodsDisabled PodMode = "disabled"
)

// Config is the DNS server's configuration.
type Config struct {
	// Domain is the cluster domain (--cluster-domain), default
	// "cluster.local".
	Domain string
	// ClusterDNS are the kube-dns Service addresses (--cluster-dns): the
	// answer for ns.dns.<domain> and the NS record of the zone.
	ClusterDNS []netip.Addr
	// Listen are the addresses ("host:port") served on both UDP and TCP.
	// Port 0 picks a free port, the same for UDP and TCP. At least one is
	// required.
	Listen []string
	// Upstreams are the resolvers other names are forwarded to ("ip" or
	// "ip:port"). Empty means the node's, from its resolv.conf (see
	// Upstreams in this package).
	Upstreams []string
	// ResolvFiles are the node's resolver files read when Upstreams is
	// empty; zero means /etc/resolv.conf and systemd-resolved's file.
	ResolvFiles resolvconf.Files
	// Pods is how pod names are answered; default PodsInsecure.
	Pods PodMode
	// TTL of the cluster's records, default 5 s (CoreDNS's).
	TTL time.Duration
	// CacheSize is how many forwarded answers are kept, default 4096;
	// negative disables the cache.
	CacheSize int
	// CacheMaxTTL caps how long a forwarded answer is kept, default 30 s
	// (k3s's `cache 30`).
	CacheMaxTTL time.Duration
	// ForwardTimeout bounds one exchange with one upstream, default 2 s;
	// a query gives up after trying each upstream once.
	ForwardTimeout time.Duration
	// AllowFrom, when set, are the only client networks answered; others
	// get REFUSED. The node wiring listens on the node's address, so it
	// allows the pod network and the node's own addresses: the server must
	// not be an open resolver for the node's whole LAN.
	AllowFrom []netip.Prefix
	// NetNS is the path of the network namespace the listening sockets
	// are made in (tests run a node inside a namespace); empty is the
	// process's own. Forwarded queries leave from the process's namespace.
	NetNS string
}

func (c Config) withDefaults() Config {
	if c.Domain == "" {
		c.Domain = "cluster.local"
	}
	c.Domain = strings.ToLower(strings.TrimSuffix(c.Domain, "."))
	if c.Pods == "" {
		c.Pods = PodsInsecure
	}
	if c.TTL == 0 {
		c.TTL = 5 * time.Second
	}
	if c.CacheSize == 0 {
		c.CacheSize = 4096
	}
	if c.CacheMaxTTL == 0 {
		c.CacheMaxTTL = 30 * time.Second
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = 2 * time.Second
	}
	return c
}

// Validate reports a configuration the server cannot run with.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(c.Domain); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("domain %q: %s", c.Domain, strings.Join(msgs, "; ")))
	}
	if len(c.Listen) == 0 {
		errs = append(errs, errors.New("no listen address"))
	}
	for _, l := range c.Listen {
		if _, _, err := net.SplitHostPort(l); err != nil {
			errs = append(errs, fmt.Errorf("listen address %q: %w", l, err))
		}
	}
	for _, u := range c.Upstreams {
		if _, err := upstreamAddr(u); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Pods {
	case PodsInsecure, PodsVerified, PodsDisabled:
	default:
		errs = append(errs, fmt.Errorf("pods mode %q: want insecure, verified or disabled", c.Pods))
	}
	if c.TTL < time.Second || c.TTL > 3600*time.Second {
		errs = append(errs, fmt.Errorf("ttl %s: want 1s to 1h", c.TTL))
	}
	if c.ForwardTimeout < 0 || c.CacheMaxTTL < 0 {
		errs = append(errs, errors.New("forward timeout and cache max TTL must not be negative"))
	}
	return errors.Join(errs...)
}

// upstreamAddr turns "ip" or "ip:port" into "ip:port".
func upstreamAddr(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", fmt.Errorf("upstream %q: want an IP address or IP:port", s)
	}
	return ap.String(), nil
}
