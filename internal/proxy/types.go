package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"kserver.dev/kserver/internal/nft"
)

// Config is the proxy's configuration for one address family.
type Config struct {
	// Family is the address family this proxier programs.
	Family nft.Family
	// Table is the name of our table (default "kserver-proxy").
	Table string
	// ClusterCIDRs are the pod networks of the cluster (this family's are
	// used). Traffic to a ClusterIP from outside them is masqueraded, so
	// replies come back through this node.
	ClusterCIDRs []netip.Prefix
	// MasqueradeBit is the packet-mark bit that asks for masquerade
	// (default 14, i.e. 0x4000, the value kube-proxy and flannel agree on).
	MasqueradeBit int
	// ResyncPeriod is how often Run checks the kernel for drift (default 1m).
	ResyncPeriod time.Duration
	// NodePortAddresses are addresses NodePorts answer on besides the
	// node's local ones (which they always answer on): the node's external
	// IPs (--node-external-ip), which behind 1:1 NAT are on no interface
	// of the node. Those of other families are ignored.
	NodePortAddresses []netip.Addr
	// NetNSFd programs the namespace with this file descriptor instead of
	// the caller's (tests and benchmarks use it).
	NetNSFd int
}

func (c *Config) defaults() {
	if c.Family == 0 {
		c.Family = nft.IPv4
	}
	if c.Table == "" {
		c.Table = "kserver-proxy"
	}
	if c.MasqueradeBit == 0 {
		c.MasqueradeBit = 14
	}
	if c.ResyncPeriod == 0 {
		c.ResyncPeriod = time.Minute
	}
}

// Validate reports a configuration the proxier cannot program.
func (c Config) Validate() error {
	c.defaults()
	if c.Family != nft.IPv4 && c.Family != nft.IPv6 {
		return fmt.Errorf("proxy: unknown address family %d", c.Family)
	}
	if c.MasqueradeBit < 0 || c.MasqueradeBit > 31 {
		return fmt.Errorf("proxy: masquerade bit %d is not in 0..31", c.MasqueradeBit)
	}
	return nil
}

func (c Config) mark() uint32 { return 1 << c.MasqueradeBit }

// nodePortAddrs are this family's NodePortAddresses, each once.
func (c Config) nodePortAddrs() []netip.Addr {
	var out []netip.Addr
	for _, a := range c.NodePortAddresses {
		if c.Family.Has(a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func (c Config) clusterCIDRs() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.ClusterCIDRs {
		if c.Family.Has(p.Addr()) {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Service is one port of a Kubernetes Service, as the proxy needs it (the
// agent fills it from a Service and its EndpointSlices). Services without a
// ClusterIP of this family (headless, ExternalName) program nothing.
type Service struct {
	Namespace, Name string
	PortName        string // the Service port's name, may be empty
	Protocol        nft.Protocol
	Port            uint16
	ClusterIP       netip.Addr
	NodePort        uint16       // 0: none
	ExternalIPs     []netip.Addr // spec.externalIPs
	LoadBalancerIPs []netip.Addr // status.loadBalancer.ingress[].ip, ipMode VIP (or unset)
	// ProxiedLoadBalancerIPs are ingress IPs with ipMode Proxy: the load
	// balancer proxies to the nodes itself, so, as kube-proxy, nothing is
	// programmed for them and traffic from the node and its pods to them
	// leaves for the load balancer instead of being short-circuited.
	ProxiedLoadBalancerIPs []netip.Addr
	AffinityTimeout        time.Duration // > 0: sessionAffinity ClientIP with this timeout
	ExternalLocal          bool          // externalTrafficPolicy: Local
	InternalLocal          bool          // internalTrafficPolicy: Local
	Endpoints              []Endpoint
}

// Endpoint is one endpoint of a Service port (from an EndpointSlice).
type Endpoint struct {
	IP          netip.Addr
	Port        uint16
	Ready       bool // conditions.ready
	Serving     bool // conditions.serving
	Terminating bool // conditions.terminating
	Local       bool // nodeName is this node
}

// Key identifies the service port: "namespace/name/protocol/port-name"
// (port-name is "p<port>" for an unnamed port, as kube-proxy does).
func (s *Service) Key() string {
	pn := s.PortName
	if pn == "" {
		pn = fmt.Sprintf("p%d", s.Port)
	}
	return s.Namespace + "/" + s.Name + "/" + s.Protocol.String() + "/" + pn
}

func (s *Service) equal(o *Service) bool {
	return s.Namespace == o.Namespace && s.Name == o.Name && s.PortName == o.PortName &&
		s.Protocol == o.Protocol && s.Port == o.Port && s.ClusterIP == o.ClusterIP &&
		s.NodePort == o.NodePort && s.AffinityTimeout == o.AffinityTimeout &&
		s.ExternalLocal == o.ExternalLocal && s.InternalLocal == o.InternalLocal &&
		slices.Equal(s.ExternalIPs, o.ExternalIPs) && slices.Equal(s.LoadBalancerIPs, o.LoadBalancerIPs) &&
		slices.Equal(s.ProxiedLoadBalancerIPs, o.ProxiedLoadBalancerIPs) &&
		slices.Equal(s.Endpoints, o.Endpoints)
}

func (s *Service) validate(f nft.Family) error {
	if s.Namespace == "" || s.Name == "" {
		return errors.New("service without namespace or name")
	}
	if s.ClusterIP.IsValid() && !f.Has(s.ClusterIP) {
		return fmt.Errorf("service %s: cluster IP %s is not %s", s.Key(), s.ClusterIP, f)
	}
	if s.Protocol != nft.TCP && s.Protocol != nft.UDP && s.Protocol != nft.SCTP {
		return fmt.Errorf("service %s: unsupported protocol %d", s.Key(), s.Protocol)
	}
	if s.Port == 0 {
		return fmt.Errorf("service %s: port 0", s.Key())
	}
	for _, e := range s.Endpoints {
		if !f.Has(e.IP) || e.Port == 0 {
			return fmt.Errorf("service %s: bad endpoint %s:%d for %s", s.Key(), e.IP, e.Port, f)
		}
	}
	return nil
}

// categorize picks the endpoints each traffic policy uses, as upstream
// does (pkg/proxy/topology.go): ready endpoints; when there are none, the
// serving terminating ones, so connections drain during a rollout.
func categorize(s *Service) (cluster, local []Endpoint, hasAny bool) {
	cluster = filter(s.Endpoints, func(e Endpoint) bool { return e.Ready })
	if len(cluster) == 0 {
		cluster = filter(s.Endpoints, func(e Endpoint) bool { return e.Serving && e.Terminating })
	}
	hasAny = len(cluster) > 0
	local = filter(s.Endpoints, func(e Endpoint) bool { return e.Local && e.Ready })
	if len(local) == 0 {
		local = filter(s.Endpoints, func(e Endpoint) bool { return e.Local && e.Serving && e.Terminating })
	}
	return cluster, local, hasAny
}

// filter returns the endpoints keep accepts: eps itself when it accepts
// all (the common case, without a copy), nil when none.
func filter(eps []Endpoint, keep func(Endpoint) bool) []Endpoint {
	n := 0
	for _, e := range eps {
		if keep(e) {
			n++
		}
	}
	switch n {
	case len(eps):
		return eps
	case 0:
		return nil
	}
	out := make([]Endpoint, 0, n)
	for _, e := range eps {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}
