package dns

import (
	"errors"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// Cluster names, as the Kubernetes DNS specification and CoreDNS's
// kubernetes plugin define them (<zone> is the cluster domain):
//
//	<svc>.<ns>.svc.<zone>                 ClusterIPs, or ready endpoint addresses of a headless Service
//	<hostname>.<svc>.<ns>.svc.<zone>      one endpoint (hostname, or its address dashed: 10-42-0-5)
//	_<port>._<proto>.<svc>.<ns>.svc.<zone> SRV of a named port (underscores optional)
//	<a-b-c-d>.<ns>.pod.<zone>             a pod address
//	<ns>.svc.<zone>, svc.<zone>, <zone>   exist, with no records (NODATA)
//
// Anything else under the zone does not exist (NXDOMAIN). Names are
// compared case-insensitively.

const (
	labelSvc = "svc"
	labelPod = "pod"
	// dnsSchemaVersion is the specification version answered at
	// dns-version.<zone> TXT.
	dnsSchemaVersion = "1.1.0"
)

var (
	// errNoItems and errInvalid make an NXDOMAIN answer.
	errNoItems = errors.New("no items found")
	errInvalid = errors.New("invalid query name")
)

func isNameError(err error) bool { return errors.Is(err, errNoItems) || errors.Is(err, errInvalid) }

// request is a cluster name taken apart.
type request struct {
	port, proto string // from _port._proto (underscores stripped)
	endpoint    string
	service     string // a pod's dashed address for pod names
	namespace   string
	kind        string // labelSvc, labelPod, or "" for the names above the namespaces
}

// parse takes apart base, the lower-case query name without the zone.
func parse(base string) (request, error) {
	var r request
	if base == "" || base == labelSvc || base == labelPod {
		return r, nil
	}
	segs := mdns.SplitDomainName(base)
	last := len(segs) - 1
	r.kind = segs[last]
	if r.kind != labelSvc && r.kind != labelPod {
		return r, errInvalid
	}
	if last--; last < 0 {
		return r, nil
	}
	r.namespace = segs[last]
	if last--; last < 0 {
		return r, nil
	}
	r.service = segs[last]
	if last--; last < 0 {
		return r, nil
	}
	switch last {
	case 0:
		r.endpoint = segs[0]
	case 1:
		r.port = strings.TrimPrefix(segs[0], "_")
		r.proto = strings.TrimPrefix(segs[1], "_")
	default:
		return r, errInvalid
	}
	return r, nil
}

// item is one thing a name stands for: an address (with a port, -1 for
// none) whose owner name SRV records point at, or an ExternalName target.
type item struct {
	addr  netip.Addr
	port  int32
	owner string // FQDN: <svc>.<ns>.svc.<zone>. or <hostname>.<svc>.<ns>.svc.<zone>.
	cname string // ExternalName target (FQDN)
}

// items returns what a parsed name stands for. zone is the zone as written
// in the query (owner names keep its case, as CoreDNS's do). An empty
// result without error means the name exists without records.
func (s *Server) items(r request, zone string) ([]item, error) {
	if r.kind == "" || r.namespace == "" {
		return nil, nil
	}
	x := s.idx
	x.mu.RLock()
	defer x.mu.RUnlock()
	if _, ok := x.namespaces[r.namespace]; !ok {
		return nil, errNoItems
	}
	if r.service == "" {
		return nil, nil
	}
	if r.kind == labelPod {
		return s.podItems(r)
	}
	return x.serviceItems(r, zone)
}

// podItems answers <dashed-address>.<ns>.pod.<zone>. The caller holds the
// index's read lock.
func (s *Server) podItems(r request) ([]item, error) {
	var ip string
	if strings.Count(r.service, "-") == 3 && !strings.Contains(r.service, "--") {
		ip = strings.ReplaceAll(r.service, "-", ".")
	} else {
		ip = strings.ReplaceAll(r.service, "-", ":")
	}
	addr, err := netip.ParseAddr(ip)
	switch {
	case s.cfg.Pods == PodsDisabled || err != nil:
		return nil, errNoItems
	case s.cfg.Pods == PodsVerified:
		addr = addr.Unmap()
		for _, ns := range s.idx.pods[addr] {
			if ns == r.namespace {
				return []item{{addr: addr, port: -1}}, nil
			}
		}
		return nil, errNoItems
	}
	return []item{{addr: addr.Unmap(), port: -1}}, nil
}

// serviceItems answers names under <svc>.<ns>.svc.<zone>. The caller
// holds the read lock.
func (x *index) serviceItems(r request, zone string) ([]item, error) {
	e := x.entries[svcKey{r.namespace, r.service}]
	if e == nil || !e.hasService {
		return nil, errNoItems
	}
	svc := &e.svc
	owner := r.service + "." + r.namespace + "." + labelSvc + "." + zone + "."
	switch {
	case svc.kind == kindExternalName:
		if r.endpoint != "" || r.port != "" || r.proto != "" {
			return nil, errNoItems
		}
		if _, err := netip.ParseAddr(svc.external); err == nil || svc.external == "" {
			return nil, errNoItems // an address is not a name to alias
		}
		return []item{{cname: mdns.Fqdn(svc.external), owner: owner}}, nil
	case svc.kind == kindHeadless || r.endpoint != "":
		return endpointItems(e, r, owner)
	}
	var out []item
	found := false
	for _, p := range svc.ports {
		if !portMatches(r, p) {
			continue
		}
		found = true
		for _, ip := range svc.ips {
			out = append(out, item{addr: ip, port: p.number, owner: owner})
		}
	}
	if !found {
		return nil, errNoItems
	}
	return out, nil
}

// endpointItems lists the serving endpoint addresses of a Service (one
// item per address and matching port), or of one endpoint when the name
// has a hostname label.
func endpointItems(e *entry, r request, owner string) ([]item, error) {
	var out []item
	for _, sl := range e.slices {
		for i := range sl.endpoints {
			ep := &sl.endpoints[i]
			if !ep.serves(e) {
				continue
			}
			label := ep.label()
			if r.endpoint != "" && r.endpoint != label {
				continue
			}
			for _, p := range sl.ports {
				if portMatches(r, p) {
					out = append(out, item{addr: ep.addr, port: p.number, owner: label + "." + owner})
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errNoItems
	}
	return out, nil
}

func portMatches(r request, p port) bool {
	return (r.port == "" || r.port == p.name) && (r.proto == "" || r.proto == p.proto)
}

// reverse returns the PTR targets of an address: the Service whose
// ClusterIP it is, else every <hostname>.<svc>.<ns>.svc.<domain> it
// serves as an endpoint.
func (s *Server) reverse(a netip.Addr) []string {
	x := s.idx
	x.mu.RLock()
	defer x.mu.RUnlock()
	if e, ok := x.clusterIPs[a]; ok {
		return []string{e.key.name + "." + e.key.namespace + "." + labelSvc + "." + s.cfg.Domain + "."}
	}
	first, ok := x.epAddrs[a]
	if !ok {
		return nil
	}
	var out []string
	for _, ref := range append([]epRef{first}, x.epMore[a]...) {
		out = append(out, ref.ep.label()+"."+ref.e.key.name+"."+ref.e.key.namespace+"."+labelSvc+"."+s.cfg.Domain+".")
	}
	return out
}
