package nodenet

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"kserver.dev/kserver/internal/nft"
	"kserver.dev/kserver/internal/proxy"
)

// defaultAffinityTimeout is upstream's sessionAffinityConfig.clientIP
// default (3 hours).
const defaultAffinityTimeout = 10800 * time.Second

// ServicePorts turns one Service and its EndpointSlices into the proxy's
// Service ports of one family (IPv4 or IPv6) for the node named node.
// Headless and ExternalName Services, and Services without a ClusterIP of
// the family, give none (DNS serves them).
func ServicePorts(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, node string, v6 bool) []proxy.Service {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	vip, ok := clusterIP(svc, v6)
	if !ok {
		return nil
	}
	nodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	var affinity time.Duration
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
		}
	}
	externalLocal := nodePorts && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	var lbIPs, proxiedIPs []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IPMode != nil && *in.IPMode == corev1.LoadBalancerIPModeProxy {
			proxiedIPs = appendAddr(proxiedIPs, in.IP, v6) // kube-proxy leaves these to the load balancer
			continue
		}
		lbIPs = appendAddr(lbIPs, in.IP, v6)
	}
	var extIPs []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		extIPs = appendAddr(extIPs, s, v6)
	}
	out := make([]proxy.Service, 0, len(svc.Spec.Ports))
	for _, sp := range svc.Spec.Ports {
		proto, ok := protocol(sp.Protocol)
		if !ok || sp.Port <= 0 || sp.Port > 65535 {
			continue
		}
		p := proxy.Service{
			Namespace: svc.Namespace, Name: svc.Name, PortName: sp.Name, Protocol: proto, Port: uint16(sp.Port),
			ClusterIP: vip, ExternalIPs: extIPs, LoadBalancerIPs: lbIPs, ProxiedLoadBalancerIPs: proxiedIPs,
			AffinityTimeout: affinity,
			ExternalLocal:   externalLocal, InternalLocal: internalLocal,
			Endpoints: endpoints(slices, sp, node, v6),
		}
		if nodePorts && sp.NodePort > 0 && sp.NodePort <= 65535 {
			p.NodePort = uint16(sp.NodePort)
		}
		out = append(out, p)
	}
	return out
}

func clusterIP(svc *corev1.Service, v6 bool) (netip.Addr, bool) {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is6() == v6 {
			return a, true
		}
	}
	return netip.Addr{}, false // "None" (headless) included
}

func appendAddr(out []netip.Addr, s string, v6 bool) []netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil && a.Is6() == v6 {
		return append(out, a)
	}
	return out
}

func protocol(p corev1.Protocol) (nft.Protocol, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return nft.TCP, true
	case corev1.ProtocolUDP:
		return nft.UDP, true
	case corev1.ProtocolSCTP:
		return nft.SCTP, true
	}
	return 0, false
}

// endpoints collects the endpoints of one Service port from the slices of
// its family, as kube-proxy does: the slice port of the same name and
// protocol gives the target port; an endpoint's first address is used;
// unset conditions mean ready (and serving as ready), not terminating;
// an address listed twice (two slices during a change) counts once.
func endpoints(slices []*discoveryv1.EndpointSlice, sp corev1.ServicePort, node string, v6 bool) []proxy.Endpoint {
	want := discoveryv1.AddressTypeIPv4
	if v6 {
		want = discoveryv1.AddressTypeIPv6
	}
	var out []proxy.Endpoint
	seen := map[netip.AddrPort]bool{}
	for _, sl := range slices {
		if sl.AddressType != want {
			continue
		}
		port, ok := slicePort(sl, sp)
		if !ok {
			continue
		}
		for _, e := range sl.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || ip.Is6() != v6 || seen[netip.AddrPortFrom(ip, port)] {
				continue
			}
			seen[netip.AddrPortFrom(ip, port)] = true
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			out = append(out, proxy.Endpoint{
				IP: ip, Port: port, Ready: ready, Serving: serving,
				Terminating: e.Conditions.Terminating != nil && *e.Conditions.Terminating,
				Local:       e.NodeName != nil && *e.NodeName == node,
			})
		}
	}
	sortEndpoints(out)
	return out
}

func slicePort(sl *discoveryv1.EndpointSlice, sp corev1.ServicePort) (uint16, bool) {
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, p := range sl.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if name == sp.Name && pp == proto && p.Port != nil && *p.Port > 0 && *p.Port <= 65535 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// sortEndpoints orders endpoints by address and port, so that the same
// set from differently ordered slices compares equal (the proxy then
// sends nothing).
func sortEndpoints(eps []proxy.Endpoint) {
	slices.SortFunc(eps, func(a, b proxy.Endpoint) int {
		if c := a.IP.Compare(b.IP); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
}

// serviceKey is namespace/name.
func serviceKey(ns, name string) string { return ns + "/" + name }

func splitKey(k string) (ns, name string) {
	ns, name, _ = strings.Cut(k, "/")
	return ns, name
}
