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
type index struct {
	mu         sync.RWMutex
	namespaces map[string]struct{}
	services   map[svcKey]*service
	slices     map[svcKey]map[string]*slice // by slice name
	// Reverse lookups: a ClusterIP names its Service; an endpoint address
	// names <hostname>.<service>… (one entry per Service it serves).
	clusterIPs map[netip.Addr]svcKey
	epAddrs    map[netip.Addr][]epRef
	epOwned    map[svcKey][]netip.Addr // what each Service put in epAddrs
	pods       map[netip.Addr][]string // PodsVerified: address → namespaces

	// serial is the SOA serial: the Unix time of the last change.
	serial atomic.Uint32
}

type svcKey struct{ namespace, name string }

type svcKind uint8

const (
	kindClusterIP svcKind = iota
	kindHeadless
	kindExternalName
)

// service is what DNS needs of a Service.
type service struct {
	kind            svcKind
	ips             []netip.Addr // ClusterIPs
	ports           []port
	external        string // ExternalName target
	publishNotReady bool
}

// port is a Service or EndpointSlice port; names and protocols are
// lower case; number -1 stands for a slice without ports.
type port struct {
	name, proto string
	number      int32
}

// slice is what DNS needs of an EndpointSlice.
type slice struct {
	ports     []port
	endpoints []endpoint
}

// endpoint is one address of an EndpointSlice endpoint.
type endpoint struct {
	addr     netip.Addr
	hostname string // spec hostname, lower case; "" means the dashed address
	ready    bool
}

// epRef is the owner of an endpoint address, for PTR answers.
type epRef struct {
	key      svcKey
	hostname string
}

func newIndex() *index {
	x := &index{
		namespaces: map[string]struct{}{},
		services:   map[svcKey]*service{},
		slices:     map[svcKey]map[string]*slice{},
		clusterIPs: map[netip.Addr]svcKey{},
		epAddrs:    map[netip.Addr][]epRef{},
		epOwned:    map[svcKey][]netip.Addr{},
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

// serves reports whether e answers queries for its Service: ready, or the
// Service publishes addresses that are not ready.
func (e *endpoint) serves(svc *service) bool {
	return e.ready || (svc != nil && svc.publishNotReady)
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
	for _, p := range s.Spec.Ports {
		out.ports = append(out.ports, port{name: strings.ToLower(p.Name), proto: strings.ToLower(string(p.Protocol)), number: p.Port})
	}
	return out
}

func toSlice(es *discoveryv1.EndpointSlice) *slice {
	out := &slice{}
	for _, p := range es.Ports {
		q := port{number: -1}
		if p.Name != nil {
			q.name = strings.ToLower(*p.Name)
		}
		if p.Protocol != nil {
			q.proto = strings.ToLower(string(*p.Protocol))
		}
		if p.Port != nil {
			q.number = *p.Port
		}
		out.ports = append(out.ports, q)
	}
	if len(out.ports) == 0 {
		out.ports = []port{{number: -1}}
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

func (x *index) setService(k svcKey, s *service) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.services[k]; old != nil {
		for _, ip := range old.ips {
			if x.clusterIPs[ip] == k {
				delete(x.clusterIPs, ip)
			}
		}
	}
	if s == nil {
		delete(x.services, k)
	} else {
		x.services[k] = s
		for _, ip := range s.ips {
			x.clusterIPs[ip] = k
		}
	}
	x.reindexEndpoints(k)
	x.touch()
}

func (x *index) setSlice(k svcKey, name string, s *slice) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if s == nil {
		delete(x.slices[k], name)
		if len(x.slices[k]) == 0 {
			delete(x.slices, k)
		}
	} else {
		if x.slices[k] == nil {
			x.slices[k] = map[string]*slice{}
		}
		x.slices[k][name] = s
	}
	x.reindexEndpoints(k)
	x.touch()
}

// reindexEndpoints recomputes the reverse entries of k's endpoint
// addresses. The caller holds the write lock.
func (x *index) reindexEndpoints(k svcKey) {
	for _, a := range x.epOwned[k] {
		refs := slices.DeleteFunc(x.epAddrs[a], func(r epRef) bool { return r.key == k })
		if len(refs) == 0 {
			delete(x.epAddrs, a)
		} else {
			x.epAddrs[a] = refs
		}
	}
	delete(x.epOwned, k)
	svc := x.services[k]
	var owned []netip.Addr
	for _, name := range sortedKeys(x.slices[k]) {
		for i := range x.slices[k][name].endpoints {
			e := &x.slices[k][name].endpoints[i]
			if !e.serves(svc) {
				continue
			}
			ref := epRef{key: k, hostname: e.label()}
			if !slices.Contains(x.epAddrs[e.addr], ref) {
				x.epAddrs[e.addr] = append(x.epAddrs[e.addr], ref)
				owned = append(owned, e.addr)
			}
		}
	}
	if len(owned) > 0 {
		x.epOwned[k] = owned
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
