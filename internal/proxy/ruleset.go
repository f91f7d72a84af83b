package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"

	"kserver.dev/kserver/internal/nft"
)

// Names of the fixed parts of our table (the skeleton).
const (
	// Dispatch: which shared chain a destination goes to.
	setClusterIPs       = "cluster-ips"        // ClusterIPs, internal policy Cluster
	setLocalIPs         = "local-ips"          // ClusterIPs, internal policy Local
	setExternalIPs      = "external-ips"       // external and LB IPs, external policy Cluster
	setExternalLocalIPs = "external-local-ips" // external and LB IPs, external policy Local
	setNodePorts        = "external-nodeports"
	setLocalNodePorts   = "external-local-nodeports"
	mapAffinityIPs      = "affinity-ips" // session affinity: per-Service chains
	mapAffinityPorts    = "affinity-nodeports"
	// Destinations without usable endpoints.
	setNoEndpointIPs   = "no-endpoint-services"       // rejected
	setNoEndpointPorts = "no-endpoint-nodeports"      // rejected
	setNoLocalIPs      = "no-local-endpoint-services" // dropped (policy Local, endpoints elsewhere)
	setNoLocalPorts    = "no-local-endpoint-nodeports"
	// Endpoints: "destination . slot" to "address . port", one map per
	// number of endpoints ("service-endpoints-3").
	mapEndpoints                = "service-endpoints-"
	mapLocalEndpoints           = "local-endpoints-"
	mapNodePortEndpoints        = "nodeport-endpoints-"
	mapNodePortLocal            = "nodeport-local-endpoints-"
	setHairpin                  = "hairpin-endpoints"
	chainServices               = "services"
	chainNodePorts              = "nodeports"
	chainCluster                = "cluster"
	chainLocal                  = "local"
	chainExternal               = "external"
	chainExternalLocal          = "external-local"
	chainNPCluster              = "nodeport-cluster"
	chainNPLocal                = "nodeport-local"
	chainNPExternal             = "nodeport-external"
	chainNPExternalLocal        = "nodeport-external-local"
	chainServiceCheck           = "service-endpoints-check"
	chainNodePortCheck          = "nodeport-endpoints-check"
	chainReject                 = "reject-chain"
	chainMasquerading           = "masquerading"
	filterPriority              = nft.PriorityDstNAT - 10
	prefixService               = "service-"
	prefixLocal                 = "local-"
	prefixExternal              = "external-"
	prefixAffinity              = "affinity-"
	minSetSize           uint32 = 1024
)

// pickChains are the chains that choose an endpoint: each has one rule
// per number of endpoints in use, which looks the destination and a random
// slot up in that number's endpoint map (m is the maps' name prefix).
var pickChains = []struct {
	chain, m string
}{
	{chainCluster, mapEndpoints}, {chainLocal, mapLocalEndpoints},
	{chainNPCluster, mapNodePortEndpoints}, {chainNPLocal, mapNodePortLocal},
}

// elementSets are the skeleton's sets and maps that hold per-Service
// elements, in the order a transaction changes them (the endpoint maps
// come and go with the numbers of endpoints in use).
var elementSets = []string{
	setClusterIPs, setLocalIPs, setExternalIPs, setExternalLocalIPs, setNodePorts, setLocalNodePorts,
	mapAffinityIPs, mapAffinityPorts, setNoEndpointIPs, setNoEndpointPorts, setNoLocalIPs, setNoLocalPorts,
	setHairpin, setFingerprint,
}

// sized are the skeleton's sets whose size grows with the Services: the
// kernel picks a faster hash for a set of known size, which then is a
// limit. Endpoint maps are sized too.
var sized = map[string]bool{
	setClusterIPs: true, setExternalIPs: true, setNodePorts: true, setNoEndpointIPs: true, setHairpin: true,
}

// endpointMap is the name of the endpoint map for lists of n endpoints.
func endpointMap(prefix string, n int) string { return prefix + strconv.Itoa(n) }

// newEndpointMap declares that map with room for size elements.
func newEndpointMap(f nft.Family, prefix string, n int, size uint32) *nft.Set {
	nodePort := prefix == mapNodePortEndpoints || prefix == mapNodePortLocal
	s := nft.TypeofMap(endpointMap(prefix, n), f.EndpointTypeof(nodePort))
	s.Size = max(size, minSetSize)
	return s
}

// skeleton is the part of the table that does not depend on Services;
// sizes gives the sized sets' limits.
func skeleton(cfg Config, sizes map[string]uint32) *nft.Table {
	f := cfg.Family
	t := nft.NewTable(cfg.Table, f)
	for _, s := range []string{setClusterIPs, setLocalIPs, setExternalIPs, setExternalLocalIPs, setNoEndpointIPs, setNoLocalIPs} {
		t.AddSet(&nft.Set{Name: s, Fields: f.ServiceFields()})
	}
	for _, s := range []string{setNodePorts, setLocalNodePorts, setNoEndpointPorts, setNoLocalPorts} {
		t.AddSet(&nft.Set{Name: s, Fields: nft.ProtoPortFields()})
	}
	t.AddSet(&nft.Set{Name: mapAffinityIPs, Fields: f.ServiceFields(), Map: true})
	t.AddSet(&nft.Set{Name: mapAffinityPorts, Fields: nft.ProtoPortFields(), Map: true})
	t.AddSet(&nft.Set{Name: setHairpin, Fields: f.AddrPairFields()})
	t.AddSet(&nft.Set{Name: setFingerprint, Fields: []nftables.SetDatatype{nftables.TypeMark, nftables.TypeMark}})
	for name, s := range t.Sets {
		if sized[name] {
			s.Size = max(sizes[name], minSetSize)
		}
	}

	base := func(name, typ string, hook nft.Hook, prio int32, rules ...nft.Rule) {
		t.AddChain(&nft.Chain{Name: name, Base: &nft.Base{Type: typ, Hook: hook, Priority: prio}, Rules: rules})
	}
	jump := func(c string) nft.Rule { return f.Rule().Verdict(nft.Jump(c)) }
	newJump := func(c string) nft.Rule { return f.Rule().CtState("new").Verdict(nft.Jump(c)) }
	base("nat-prerouting", "nat", nft.Prerouting, nft.PriorityDstNAT, jump(chainServices))
	base("nat-output", "nat", nft.Output, nft.PriorityDstNAT, jump(chainServices))
	base("nat-postrouting", "nat", nft.Postrouting, nft.PrioritySrcNAT, jump(chainMasquerading))
	// Reject needs a filter chain at input/forward/output; at priority
	// dstnat-10 the destination is still the Service address.
	base("filter-input", "filter", nft.Input, filterPriority, newJump(chainNodePortCheck), newJump(chainServiceCheck))
	base("filter-forward", "filter", nft.Forward, filterPriority, newJump(chainServiceCheck))
	base("filter-output", "filter", nft.Output, filterPriority, newJump(chainServiceCheck))

	chain := func(name string, rules ...nft.Rule) { t.AddChain(&nft.Chain{Name: name, Rules: rules}) }
	local := func() *nft.R { return f.Rule().FibDAddrLocal().DAddr(f.Loopback(), true) }
	to := func(set, c string) nft.Rule { return f.Rule().ServiceIn(set).Verdict(nft.Goto(c)) }
	portTo := func(set, c string) nft.Rule { return f.Rule().ProtoPortIn(set).Verdict(nft.Goto(c)) }
	services := []nft.Rule{to(setClusterIPs, chainCluster), to(setLocalIPs, chainLocal), to(setExternalIPs, chainExternal),
		to(setExternalLocalIPs, chainExternalLocal), f.Rule().ServiceVmap(mapAffinityIPs), local().Verdict(nft.Goto(chainNodePorts))}
	// NodePorts on the extra node addresses (external IPs not on any
	// interface), checked for endpoints on every path: traffic to them is
	// forwarded or sent, not delivered locally.
	serviceCheck := []nft.Rule{to(setNoEndpointIPs, chainReject), f.Rule().ServiceIn(setNoLocalIPs).Verdict(nft.Drop)}
	for _, a := range cfg.nodePortAddrs() {
		at := func() *nft.R { return f.Rule().DAddr(hostPrefix(a), false) }
		services = append(services, at().Verdict(nft.Goto(chainNodePorts)))
		serviceCheck = append(serviceCheck, at().ProtoPortIn(setNoEndpointPorts).Verdict(nft.Goto(chainReject)),
			at().ProtoPortIn(setNoLocalPorts).Verdict(nft.Drop))
	}
	chain(chainServices, services...)
	chain(chainNodePorts, portTo(setNodePorts, chainNPExternal), portTo(setLocalNodePorts, chainNPExternalLocal),
		f.Rule().ProtoPortVmap(mapAffinityPorts))
	mark := f.Rule().SetMarkOr(cfg.mark()).Build()
	chain(chainExternal, mark, f.Rule().Verdict(nft.Goto(chainCluster)))
	chain(chainNPExternal, mark, f.Rule().Verdict(nft.Goto(chainNPCluster)))
	chain(chainExternalLocal, externalLocal(cfg, chainCluster, chainLocal)...)
	chain(chainNPExternalLocal, externalLocal(cfg, chainNPCluster, chainNPLocal)...)
	for _, pc := range pickChains {
		chain(pc.chain)
	}

	chain(chainServiceCheck, serviceCheck...)
	chain(chainNodePortCheck, local().ProtoPortIn(setNoEndpointPorts).Verdict(nft.Goto(chainReject)),
		local().ProtoPortIn(setNoLocalPorts).Verdict(nft.Drop))
	// TCP gets a reset: an ICMP error for a packet routed back out of the
	// interface it came in on (a pod on the node's bridge) is not delivered.
	chain(chainReject, f.Rule().L4Proto(nft.TCP).RejectTCPReset(), f.Rule().Reject())
	// Hairpin: a pod that reached itself through a Service (source and
	// destination equal after DNAT) is masqueraded, or its reply would not
	// come back through conntrack. Only DNATed connections: a node-local
	// endpoint's own direct traffic (127.0.0.1 to 127.0.0.1, say) must not
	// be, or a connection open before the table existed, taken up by
	// conntrack mid-stream, would get a new source port and be reset.
	chain(chainMasquerading,
		f.Rule().CtStatusDNAT().AddrPairIn(setHairpin).Masquerade(),
		f.Rule().MarkSet(cfg.mark(), true).Verdict(nft.Return),
		f.Rule().SetMarkXor(cfg.mark()).Masquerade())
	return t
}

// layoutVersion changes whenever this file's layout changes in a way the
// text of the skeleton does not show.
const layoutVersion = "2"

// layoutComment is our table's comment. It names the layout (a hash of
// the skeleton and the endpoint maps' declarations) so that a restarted
// kserver takes over a table only when it is exactly what it would build.
func layoutComment(cfg Config) string {
	t := skeleton(cfg, nil)
	for _, pc := range pickChains {
		t.Chains[pc.chain].Rules = pickRules(cfg, pc.chain, pc.m, []int{1})
		t.AddSet(newEndpointMap(cfg.Family, pc.m, 1, 0))
	}
	sum := sha256.Sum256([]byte(layoutVersion + "\n" + t.String()))
	return fmt.Sprintf("kserver Service proxy, layout %x", sum[:6])
}

// externalLocal is the chain for external traffic with policy Local: pods
// and this host use the internal endpoints (the host's traffic
// masqueraded), other clients only this node's, keeping their address.
func externalLocal(cfg Config, internal, local string) []nft.Rule {
	f := cfg.Family
	var rules []nft.Rule
	for _, p := range cfg.clusterCIDRs() {
		rules = append(rules, f.Rule().SAddr(p, false).Verdict(nft.Goto(internal)))
	}
	return append(rules,
		f.Rule().FibSAddrLocal().SetMarkOr(cfg.mark()).Build(),
		f.Rule().FibSAddrLocal().Verdict(nft.Goto(internal)),
		f.Rule().Verdict(nft.Goto(local)))
}

// pickRules are a pick chain's rules for the endpoint counts in use: the
// masquerade mark first (cluster chains), then one rule per count.
func pickRules(cfg Config, chain, m string, counts []int) []nft.Rule {
	rules := pickHead(cfg, chain)
	for _, n := range counts {
		rules = append(rules, pickRule(cfg, m, n))
	}
	return rules
}

// pickHead are the rules of a pick chain before the per-count ones.
func pickHead(cfg Config, chain string) []nft.Rule {
	if chain != chainCluster && chain != chainNPCluster {
		return nil
	}
	// Traffic from outside the pod network is masqueraded so that the
	// reply returns through this node.
	if cidrs := cfg.clusterCIDRs(); len(cidrs) == 1 {
		return []nft.Rule{cfg.Family.Rule().SAddr(cidrs[0], true).SetMarkOr(cfg.mark()).Build()}
	}
	return nil
}

func pickRule(cfg Config, m string, n int) nft.Rule {
	nodePort := m == mapNodePortEndpoints || m == mapNodePortLocal
	return cfg.Family.Rule().PickDNAT(endpointMap(m, n), uint32(n), 0, nodePort)
}

// pick is one endpoint list of a fragment: n endpoints in the maps named
// m (prefix).
type pick struct {
	m string
	n int
}

// fragment is what one Service port adds to the table: elements of the
// skeleton's sets and maps, the endpoint lists (their lengths decide the
// pick rules), the node-local endpoint addresses (shared,
// reference-counted elements of the hairpin set) and, with session
// affinity only, chains and sets of its own.
type fragment struct {
	chains  []*nft.Chain
	sets    []*nft.Set
	elems   []setElems // a few sets each
	picks   []pick
	hairpin []netip.Addr
	fp      uint64 // fingerprint, once computed
	fpDone  bool
}

// setElems are a fragment's elements of one set.
type setElems struct {
	set string
	es  []nft.Element
}

// list is the fragment's elements of set m. An endpoint map can hold
// several lists of one fragment (the ClusterIP's and each external
// address's): they are joined, copying only then.
func (fr *fragment) list(m string) []nft.Element {
	var out []nft.Element
	n := 0
	for _, se := range fr.elems {
		if se.set != m {
			continue
		}
		switch n {
		case 0:
			out = se.es
		case 1:
			out = append(slices.Clone(out), se.es...)
		default:
			out = append(out, se.es...)
		}
		n++
	}
	return out
}

func (fr *fragment) add(m string, e nft.Element) {
	for i := range fr.elems {
		if fr.elems[i].set == m {
			fr.elems[i].es = append(fr.elems[i].es, e)
			return
		}
	}
	fr.elems = append(fr.elems, setElems{m, []nft.Element{e}})
}

// endpoints adds the list eps under destination key k (an endpoint map's
// key without the slot) to map m.
func (fr *fragment) endpoints(f nft.Family, m string, k nft.Key, eps []Endpoint) {
	if len(eps) == 0 {
		return
	}
	// One allocation for the list's keys and values.
	kl, vl := len(k.Bytes)+4, f.AddrLen()+4
	buf := make([]byte, 0, len(eps)*(kl+vl))
	vals := make([]nft.Key, len(eps))
	name := endpointMap(m, len(eps))
	list := make([]nft.Element, 0, len(eps))
	for i, e := range eps {
		buf = append(buf, k.Bytes...)
		buf = binary.NativeEndian.AppendUint32(buf, uint32(i)) // numgen's byte order
		key := buf[len(buf)-kl:]
		buf = f.AppendEndpointValue(buf, e.IP, e.Port)
		vals[i].Bytes = buf[len(buf)-vl:]
		list = append(list, nft.Element{Key: nft.Key{Bytes: key}, Value: &vals[i]})
	}
	fr.elems = append(fr.elems, setElems{name, list}) // a key has one list per map
	fr.picks = append(fr.picks, pick{m, len(eps)})
}

// build computes a Service port's fragment.
func build(cfg Config, s *Service) *fragment {
	fr := &fragment{}
	if !s.ClusterIP.IsValid() {
		return fr // headless or ExternalName: DNS only
	}
	f := cfg.Family
	cluster, local, hasAny := categorize(s)
	for _, e := range s.Endpoints {
		if e.Local && !slices.Contains(fr.hairpin, e.IP) {
			fr.hairpin = append(fr.hairpin, e.IP)
		}
	}
	if s.AffinityTimeout > 0 {
		buildAffinity(cfg, s, fr, cluster, local, hasAny)
		return fr
	}
	internal := cluster
	if s.InternalLocal {
		internal = local
	}
	// ClusterIP.
	kc := f.ServiceKey(s.ClusterIP, s.Protocol, s.Port)
	switch {
	case len(internal) == 0:
		noEndpoints(fr, kc, setNoEndpointIPs, setNoLocalIPs, hasAny)
	case s.InternalLocal:
		fr.add(setLocalIPs, nft.Element{Key: kc})
		fr.endpoints(f, mapLocalEndpoints, kc, internal)
	default:
		fr.add(setClusterIPs, nft.Element{Key: kc})
		fr.endpoints(f, mapEndpoints, kc, internal)
	}
	// External IPs, LoadBalancer IPs, NodePort.
	external := cluster
	if s.ExternalLocal {
		external = local
	}
	addExternal := func(k nft.Key, dispatch, dispatchLocal, eps, localEps, none, noneLocal string) {
		switch {
		case len(external) == 0:
			noEndpoints(fr, k, none, noneLocal, hasAny)
		case s.ExternalLocal:
			fr.add(dispatchLocal, nft.Element{Key: k})
			fr.endpoints(f, localEps, k, local)
			fr.endpoints(f, eps, k, internal) // pods and this host
		default:
			fr.add(dispatch, nft.Element{Key: k})
			fr.endpoints(f, eps, k, cluster)
		}
	}
	for _, a := range externalAddrs(f, s) {
		addExternal(f.ServiceKey(a, s.Protocol, s.Port), setExternalIPs, setExternalLocalIPs,
			mapEndpoints, mapLocalEndpoints, setNoEndpointIPs, setNoLocalIPs)
	}
	if s.NodePort != 0 {
		addExternal(nft.ProtoPortKey(s.Protocol, s.NodePort), setNodePorts, setLocalNodePorts,
			mapNodePortEndpoints, mapNodePortLocal, setNoEndpointPorts, setNoLocalPorts)
	}
	return fr
}

// noEndpoints rejects a destination (no endpoints at all: the client is
// told at once) or drops it (only other nodes have endpoints and the
// policy is Local, as upstream).
func noEndpoints(fr *fragment, k nft.Key, reject, drop string, hasAny bool) {
	if hasAny {
		fr.add(drop, nft.Element{Key: k})
	} else {
		fr.add(reject, nft.Element{Key: k})
	}
}

// externalAddrs are the Service's externalIPs and LoadBalancer IPs of
// this family, each once: ServiceLB lists node addresses, which a user
// may also have put in externalIPs, and a key added twice would make the
// incremental transaction fail. LoadBalancer IPs with ipMode Proxy are
// not among them (ProxiedLoadBalancerIPs): kube-proxy leaves them alone
// so that traffic to them goes out to the load balancer.
func externalAddrs(f nft.Family, s *Service) []netip.Addr {
	var out []netip.Addr
	for _, a := range append(append([]netip.Addr(nil), s.ExternalIPs...), s.LoadBalancerIPs...) {
		if f.Has(a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// affinitySet names the affinity set of a Service port's endpoint
// ("ns/name/proto/port__ip/port"). Set names are hashed: older kernels
// limit them to 32 bytes.
func affinitySet(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	return prefixAffinity + base32.StdEncoding.EncodeToString(sum[:10])
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// splitEndpointMap splits an endpoint map's name into prefix and count.
func splitEndpointMap(name string) (prefix string, n int, ok bool) {
	for _, pc := range pickChains {
		if rest, found := strings.CutPrefix(name, pc.m); found {
			n, err := strconv.Atoi(rest)
			return pc.m, n, err == nil
		}
	}
	return "", 0, false
}
