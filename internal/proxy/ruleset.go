package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"

	"kserver.dev/kserver/internal/nft"
)

// Names of the fixed parts of our table (the skeleton).
const (
	mapServiceIPs       = "service-ips"
	mapServiceNodePorts = "service-nodeports"
	mapNoEndpointIPs    = "no-endpoint-services"
	mapNoEndpointPorts  = "no-endpoint-nodeports"
	chainServices       = "services"
	chainServiceCheck   = "service-endpoints-check"
	chainNodePortCheck  = "nodeport-endpoints-check"
	chainReject         = "reject-chain"
	chainMasquerading   = "masquerading"
	setHairpin          = "hairpin-endpoints"
	mapEndpoints        = "service-endpoints-" // + shard number
	filterPriority      = nft.PriorityDstNAT - 10
	prefixService       = "service-"
	prefixLocal         = "local-"
	prefixExternal      = "external-"
	prefixAffinity      = "affinity-"
)

// endpointShards is how many endpoint maps share the Service chains. The
// kernel checks every element added to a data map against every rule
// bound to that map, so one map for 10k Services made a full sync
// quadratic; 64 maps cut that 64-fold and keep per-change work small.
const endpointShards = 64

var skeletonMaps = func() []string {
	m := []string{mapServiceIPs, mapServiceNodePorts, mapNoEndpointIPs, mapNoEndpointPorts}
	for i := range endpointShards {
		m = append(m, endpointMap(uint64(i)))
	}
	return m
}()

// endpointMap is the shard of the endpoint map a chain id uses.
func endpointMap(id uint64) string { return fmt.Sprintf("%s%d", mapEndpoints, id%endpointShards) }

// skeleton is the part of the table that does not depend on Services.
func skeleton(cfg Config) *nft.Table {
	f := cfg.Family
	t := nft.NewTable(cfg.Table, f)
	t.AddSet(&nft.Set{Name: mapServiceIPs, Fields: f.ServiceFields(), Map: true})
	t.AddSet(&nft.Set{Name: mapNoEndpointIPs, Fields: f.ServiceFields(), Map: true})
	t.AddSet(&nft.Set{Name: mapServiceNodePorts, Fields: nft.ProtoPortFields(), Map: true})
	t.AddSet(&nft.Set{Name: mapNoEndpointPorts, Fields: nft.ProtoPortFields(), Map: true})
	t.AddSet(&nft.Set{Name: setHairpin, Fields: f.AddrPairFields()})
	for i := range endpointShards {
		t.AddSet(&nft.Set{Name: endpointMap(uint64(i)), Fields: nft.SlotFields(), Data: f.EndpointFields()})
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
	chain(chainServices, f.Rule().ServiceVmap(mapServiceIPs), local().ProtoPortVmap(mapServiceNodePorts))
	chain(chainServiceCheck, f.Rule().ServiceVmap(mapNoEndpointIPs))
	chain(chainNodePortCheck, local().ProtoPortVmap(mapNoEndpointPorts))
	// TCP gets a reset: an ICMP error for a packet routed back out of the
	// interface it came in on (a pod on the node's bridge) is not delivered.
	chain(chainReject, f.Rule().L4Proto(nft.TCP).RejectTCPReset(), f.Rule().Reject())
	// Hairpin: a pod that reached itself through a Service (source and
	// destination equal after DNAT) is masqueraded, or its reply would not
	// come back through conntrack.
	chain(chainMasquerading,
		f.Rule().AddrPairIn(setHairpin).Masquerade(),
		f.Rule().MarkSet(cfg.mark(), true).Verdict(nft.Return),
		f.Rule().SetMarkXor(cfg.mark()).Masquerade())
	return t
}

// fragment is what one Service port adds to the table: its chains, its
// affinity sets, its elements in the skeleton's maps and its endpoint
// addresses (shared, reference-counted elements of the hairpin set).
type fragment struct {
	chains  []*nft.Chain
	sets    []*nft.Set
	elems   map[string][]nft.Element // by skeleton map name
	hairpin []netip.Addr
}

func (fr *fragment) addElem(m string, k nft.Key, v nft.Verdict) {
	if fr.elems == nil {
		fr.elems = map[string][]nft.Element{}
	}
	fr.elems[m] = append(fr.elems[m], nft.Element{Key: k, Verdict: &v})
}

func (fr *fragment) addValue(m string, k nft.Key, v *nft.Key) {
	if fr.elems == nil {
		fr.elems = map[string][]nft.Element{}
	}
	fr.elems[m] = append(fr.elems[m], nft.Element{Key: k, Value: v})
}

// chainID names a chain's slots in the endpoint map (FNV-1a, 64 bits:
// collisions among thousands of chains are out of reach).
func chainID(chain string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(chain))
	return h.Sum64()
}

// build computes a Service port's fragment.
func build(cfg Config, s *Service) *fragment {
	fr := &fragment{}
	if !s.ClusterIP.IsValid() {
		return fr // headless or ExternalName: DNS only
	}
	f := cfg.Family
	id := s.Key()
	cluster, local, hasAny := categorize(s)
	usesLocal := s.InternalLocal || s.ExternalLocal

	affinity := map[Endpoint]string{}
	for _, e := range s.Endpoints {
		if _, dup := affinity[e]; dup {
			continue
		}
		affinity[e] = affinitySet(fmt.Sprintf("%s__%s/%d", id, e.IP, e.Port))
		if s.AffinityTimeout > 0 {
			fr.sets = append(fr.sets, &nft.Set{Name: affinity[e], Fields: f.AddrFields(), Dynamic: true, Timeout: s.AffinityTimeout})
		}
		if !slices.Contains(fr.hairpin, e.IP) {
			fr.hairpin = append(fr.hairpin, e.IP)
		}
	}
	// balance writes a chain that picks one of eps: a client with session
	// affinity goes back to its endpoint, others are spread at random.
	balance := func(name string, eps []Endpoint, pre ...nft.Rule) {
		if len(eps) == 0 {
			return
		}
		rules := pre
		if s.AffinityTimeout == 0 {
			// Endpoints are elements of the shared endpoint map: a
			// changed endpoint is an element change, not a rule change.
			id := chainID(name)
			for i, e := range eps {
				fr.addValue(endpointMap(id), nft.SlotKey(uint32(i), id), f.EndpointValue(e.IP, e.Port))
			}
			rules = append(rules, f.Rule().L4Proto(s.Protocol).DNATMap(len(eps), id, endpointMap(id)))
			fr.chains = append(fr.chains, &nft.Chain{Name: name, Rules: rules})
			return
		}
		for _, e := range eps {
			rules = append(rules, f.Rule().SAddrIn(affinity[e], false).L4Proto(s.Protocol).DNAT(e.IP, e.Port))
		}
		for i, e := range eps {
			r := f.Rule().NumgenPick(i, len(eps)).UpdateSAddr(affinity[e], s.AffinityTimeout)
			rules = append(rules, r.L4Proto(s.Protocol).DNAT(e.IP, e.Port))
		}
		fr.chains = append(fr.chains, &nft.Chain{Name: name, Rules: rules})
	}

	// Cluster-wide chain; traffic from outside the pod network is
	// masqueraded so that the reply returns through this node.
	var masq []nft.Rule
	for _, p := range cfg.clusterCIDRs() {
		masq = append(masq, f.Rule().SAddr(p, true).SetMarkOr(cfg.mark()).Build())
	}
	if len(masq) > 1 {
		masq = nil // several pod networks: a single != cannot express it
	}
	balance(prefixService+id, cluster, masq...)
	if usesLocal {
		balance(prefixLocal+id, local)
	}

	internal, internalEps := prefixService+id, cluster
	if s.InternalLocal {
		internal, internalEps = prefixLocal+id, local
	}
	dispatch(fr, f.ServiceKey(s.ClusterIP, s.Protocol, s.Port), mapServiceIPs, mapNoEndpointIPs, internal, len(internalEps) > 0, hasAny)

	externals := make([]nft.Key, 0, len(s.ExternalIPs)+len(s.LoadBalancerIPs))
	for _, a := range append(append([]netip.Addr(nil), s.ExternalIPs...), s.LoadBalancerIPs...) {
		if f.Has(a) {
			externals = append(externals, f.ServiceKey(a, s.Protocol, s.Port))
		}
	}
	if len(externals) == 0 && s.NodePort == 0 {
		return fr
	}
	ext := prefixExternal + id
	extEps := cluster
	if s.ExternalLocal {
		extEps = local
	}
	if len(extEps) > 0 {
		fr.chains = append(fr.chains, externalRules(cfg, s, ext, internal, len(internalEps) > 0))
	}
	for _, k := range externals {
		dispatch(fr, k, mapServiceIPs, mapNoEndpointIPs, ext, len(extEps) > 0, hasAny)
	}
	if s.NodePort != 0 {
		dispatch(fr, nft.ProtoPortKey(s.Protocol, s.NodePort), mapServiceNodePorts, mapNoEndpointPorts, ext, len(extEps) > 0, hasAny)
	}
	return fr
}

// dispatch sends a destination to its chain, or, without endpoints, to
// reject (no endpoints at all: the client is told at once) or drop (only
// other nodes have endpoints and the policy is Local, as upstream).
func dispatch(fr *fragment, k nft.Key, ok, none, chain string, has, hasAny bool) {
	switch {
	case has:
		fr.addElem(ok, k, nft.Goto(chain))
	case hasAny:
		fr.addElem(none, k, nft.Drop)
	default:
		fr.addElem(none, k, nft.Goto(chainReject))
	}
}

// externalRules is the chain for NodePort, externalIPs and LoadBalancer
// traffic. With externalTrafficPolicy Cluster it is masqueraded; with
// Local the client address is kept and only local endpoints are used,
// except for traffic from pods and from this host, which may use any.
func externalRules(cfg Config, s *Service, name, internal string, hasInternal bool) *nft.Chain {
	f := cfg.Family
	c := &nft.Chain{Name: name}
	if !s.ExternalLocal {
		c.Rules = append(c.Rules, f.Rule().SetMarkOr(cfg.mark()).Build(), f.Rule().Verdict(nft.Goto(prefixService+s.Key())))
		return c
	}
	if hasInternal {
		for _, p := range cfg.clusterCIDRs() {
			c.Rules = append(c.Rules, f.Rule().SAddr(p, false).Verdict(nft.Goto(internal)))
		}
		c.Rules = append(c.Rules,
			f.Rule().FibSAddrLocal().SetMarkOr(cfg.mark()).Build(),
			f.Rule().FibSAddrLocal().Verdict(nft.Goto(internal)))
	}
	c.Rules = append(c.Rules, f.Rule().Verdict(nft.Goto(prefixLocal+s.Key())))
	return c
}

// affinitySet names the affinity set of a Service port's endpoint
// ("ns/name/proto/port__ip/port"). Set names are hashed: older kernels
// limit them to 32 bytes.
func affinitySet(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	return prefixAffinity + base32.StdEncoding.EncodeToString(sum[:10])
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
