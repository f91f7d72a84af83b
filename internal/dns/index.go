package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// index is the part of the cluster DNS answers from: compact copies of
// what the answers need of Services, EndpointSlices and Namespaces (and of
// pod addresses in PodsVerified mode), kept up to date by informer event
// handlers. Queries read it under a read lock and never touch the
// informers' objects or the API.
//
// It is laid out for size (under 1 KiB per Service with one slice of
// three endpoints; see docs/dns.md): one entry per Service name holding
// the Service and its slices, and reverse maps of single small values.
type index struct {
	mu         sync.RWMutex
	namespaces map[string]struct{}
	entries    map[svcKey]*entry
	// Reverse lookups: a ClusterIP names its Service; an endpoint address
	// names <hostname>.<service>… — epAddrs holds the first Service it
	// serves, epMore the others (an address in several Services is rare).
	clusterIPs map[netip.Addr]*entry
	epAddrs    map[netip.Addr]epRef
	epMore     map[netip.Addr][]epRef
	pods       map[netip.Addr][]string // PodsVerified: address → namespaces

	// serial is the SOA serial: the Unix time of the last change.
	serial atomic.Uint32
}

type svcKey struct{ namespace, name string }

// entry is one Service name: the Service (when it exists) and the
// EndpointSlices labelled with its name, sorted by slice name.
type entry struct {
	key        svcKey
	hasService bool
	svc        service
	slices     []*slice
}

type svcKind uint8

const (
	kindClusterIP svcKind = iota
	kindHeadless
	kindExternalName
)

// service is what DNS needs of a Service.
type service struct {
	kind            svcKind
	publishNotReady bool
	ips             []netip.Addr // ClusterIPs
	ports           []port
	external        string // ExternalName target
}

// port is a Service or EndpointSlice port; names and protocols are
// lower case; number -1 stands for a slice without ports.
type port struct {
	name, proto string
	number      int32
}

// slice is what DNS needs of an EndpointSlice.
type slice struct {
	name      string
	ports     []port
	endpoints []endpoint
}

// endpoint is one address of an EndpointSlice endpoint.
type endpoint struct {
	addr     netip.Addr
	hostname string // spec hostname, lower case; "" means the dashed address
	ready    bool
}

// epRef is an owner of an endpoint address, for PTR answers.
type epRef struct {
	e  *entry
	ep *endpoint
}

func newIndex() *index {
	x := &index{
		namespaces: map[string]struct{}{},
		entries:    map[svcKey]*entry{},
		clusterIPs: map[netip.Addr]*entry{},
		epAddrs:    map[netip.Addr]epRef{},
		epMore:     map[netip.Addr][]epRef{},
		pods:       map[netip.Addr][]string{},
	}
	x.touch()
	return x
}

func (x *index) touch() { x.serial.Store(uint32(time.Now().Unix())) }

// label returns an endpoint's DNS label: its hostname or, without one,
// its address with '.' and ':' replaced by '-' (CoreDNS's rule; an IPv6
// address ending in "::" gets a trailing 0).
func (e *endpoint) label() string {
	if e.hostname != "" {
		return e.hostname
	}
	return dashed(e.addr)
}

func dashed(a netip.Addr) string {
	s := a.String()
	if a.Is4() {
		return strings.ReplaceAll(s, ".", "-")
	}
	s = strings.ReplaceAll(s, ":", "-")
	if strings.HasSuffix(s, "-") {
		s += "0"
	}
	return s
}

// serves reports whether ep answers queries for its Service: ready, or
// the Service publishes addresses that are not ready.
func (ep *endpoint) serves(e *entry) bool {
	return ep.ready || (e.hasService && e.svc.publishNotReady)
}

// --- updates -------------------------------------------------------------

func toService(s *corev1.Service) *service {
	out := &service{publishNotReady: s.Spec.PublishNotReadyAddresses}
	switch {
	case s.Spec.Type == corev1.ServiceTypeExternalName:
		out.kind, out.external = kindExternalName, s.Spec.ExternalName
	case s.Spec.ClusterIP == corev1.ClusterIPNone:
		out.kind = kindHeadless
	}
	if out.kind == kindClusterIP {
		ips := s.Spec.ClusterIPs
		if len(ips) == 0 && s.Spec.ClusterIP != "" {
			ips = []string{s.Spec.ClusterIP}
		}
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				out.ips = append(out.ips, a)
			}
		}
	}
	out.ports = make([]port, 0, len(s.Spec.Ports))
	for _, p := range s.Spec.Ports {
		out.ports = append(out.ports, port{name: strings.ToLower(p.Name), proto: protocol(p.Protocol), number: p.Port})
	}
	return out
}

// protocol is a protocol's SRV label, without allocating for the usual
// ones.
func protocol(p corev1.Protocol) string {
	switch p {
	case corev1.ProtocolTCP:
		return "tcp"
	case corev1.ProtocolUDP:
		return "udp"
	case corev1.ProtocolSCTP:
		return "sctp"
	}
	return strings.ToLower(string(p))
}

func toSlice(es *discoveryv1.EndpointSlice) *slice {
	out := &slice{ports: make([]port, 0, max(len(es.Ports), 1))}
	n := 0
	for _, ep := range es.Endpoints {
		n += len(ep.Addresses)
	}
	out.endpoints = make([]endpoint, 0, n)
	for _, p := range es.Ports {
		q := port{number: -1}
		if p.Name != nil {
			q.name = strings.ToLower(*p.Name)
		}
		if p.Protocol != nil {
			q.proto = protocol(*p.Protocol)
		}
		if p.Port != nil {
			q.number = *p.Port
		}
		out.ports = append(out.ports, q)
	}
	if len(out.ports) == 0 {
		out.ports = append(out.ports, port{number: -1})
	}
	for _, ep := range es.Endpoints {
		ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
		host := ""
		if ep.Hostname != nil {
			host = strings.ToLower(*ep.Hostname)
		}
		for _, a := range ep.Addresses {
			if addr, err := netip.ParseAddr(a); err == nil {
				out.endpoints = append(out.endpoints, endpoint{addr: addr.Unmap(), hostname: host, ready: ready})
			}
		}
	}
	return out
}

// sliceOwner is the Service an EndpointSlice belongs to; ok is false for
// slices DNS ignores (no service label, FQDN addresses).
func sliceOwner(es *discoveryv1.EndpointSlice) (svcKey, bool) {
	name := es.Labels[discoveryv1.LabelServiceName]
	if name == "" || es.AddressType == discoveryv1.AddressTypeFQDN {
		return svcKey{}, false
	}
	return svcKey{es.Namespace, name}, true
}

// setService stores (or, with s nil, forgets) the Service k.
func (x *index) setService(k svcKey, s *service) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.entries[k]
	if e == nil {
		if s == nil {
			return
		}
		e = &entry{key: k}
		x.entries[k] = e
	}
	x.unindex(e)
	if old := e.svc; e.hasService {
		for _, ip := range old.ips {
			if x.clusterIPs[ip] == e {
				delete(x.clusterIPs, ip)
			}
		}
	}
	e.hasService, e.svc = s != nil, service{}
	if s != nil {
		e.svc = *s
		for _, ip := range s.ips {
			x.clusterIPs[ip] = e
		}
	}
	x.reindex(e)
	x.touch()
}

// setSlice stores (or, with s nil, forgets) an EndpointSlice of k.
func (x *index) setSlice(k svcKey, name string, s *slice) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.entries[k]
	if e == nil {
		if s == nil {
			return
		}
		e = &entry{key: k}
		x.entries[k] = e
	}
	x.unindex(e)
	if s != nil {
		s.name = name
	}
	i, found := slices.BinarySearchFunc(e.slices, name, func(sl *slice, n string) int { return strings.Compare(sl.name, n) })
	switch {
	case s == nil && found:
		e.slices = slices.Delete(e.slices, i, i+1)
	case s != nil && found:
		e.slices[i] = s
	case s != nil:
		e.slices = slices.Insert(e.slices, i, s)
	}
	x.reindex(e)
	x.touch()
}

// unindex removes e's endpoint addresses from the reverse maps, before e
// changes; reindex adds them back after. The caller holds the write lock.
func (x *index) unindex(e *entry) {
	for _, sl := range e.slices {
		for i := range sl.endpoints {
			ep := &sl.endpoints[i]
			ref := epRef{e, ep}
			if x.epAddrs[ep.addr] == ref {
				if more := x.epMore[ep.addr]; len(more) > 0 {
					x.epAddrs[ep.addr] = more[0]
					x.setMore(ep.addr, more[1:])
				} else {
					delete(x.epAddrs, ep.addr)
				}
				continue
			}
			x.setMore(ep.addr, slices.DeleteFunc(x.epMore[ep.addr], func(r epRef) bool { return r == ref }))
		}
	}
}

func (x *index) setMore(a netip.Addr, refs []epRef) {
	if len(refs) == 0 {
		delete(x.epMore, a)
	} else {
		x.epMore[a] = refs
	}
}

// reindex adds e's serving endpoint addresses to the reverse maps, or
// drops e when it holds neither a Service nor slices.
func (x *index) reindex(e *entry) {
	if !e.hasService && len(e.slices) == 0 {
		delete(x.entries, e.key)
		return
	}
	for _, sl := range e.slices {
		for i := range sl.endpoints {
			ep := &sl.endpoints[i]
			if !ep.serves(e) {
				continue
			}
			if _, taken := x.epAddrs[ep.addr]; !taken {
				x.epAddrs[ep.addr] = epRef{e, ep}
			} else {
				x.epMore[ep.addr] = append(x.epMore[ep.addr], epRef{e, ep})
			}
		}
	}
}

func (x *index) setNamespace(name string, exists bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if exists {
		x.namespaces[name] = struct{}{}
	} else {
		delete(x.namespaces, name)
	}
	x.touch()
}

// setPod records (or, with addrs nil, forgets) the addresses of one pod.
func (x *index) setPod(namespace string, old, addrs []netip.Addr) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, a := range old {
		if i := slices.Index(x.pods[a], namespace); i >= 0 {
			if ns := slices.Delete(x.pods[a], i, i+1); len(ns) > 0 {
				x.pods[a] = ns
			} else {
				delete(x.pods, a)
			}
		}
	}
	for _, a := range addrs {
		x.pods[a] = append(x.pods[a], namespace)
	}
}
