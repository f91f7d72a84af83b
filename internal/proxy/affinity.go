package proxy

import (
	"fmt"

	"kserver.dev/kserver/internal/nft"
)

// buildAffinity programs a Service port with session affinity the way
// kube-proxy does: a chain of its own that sends a client back to the
// endpoint it had (one dynamic timeout set per endpoint) and otherwise
// picks one. Those chains name each endpoint in rules, so a change of the
// endpoints rewrites them; Services with affinity are few, and the kernel
// re-checks only the small graph of chains behind the affinity maps.
func buildAffinity(cfg Config, s *Service, fr *fragment, cluster, local []Endpoint, hasAny bool) {
	f := cfg.Family
	id := s.Key()
	affinity := map[Endpoint]string{}
	for _, e := range s.Endpoints {
		if _, dup := affinity[e]; dup {
			continue
		}
		affinity[e] = affinitySet(fmt.Sprintf("%s__%s/%d", id, e.IP, e.Port))
		fr.sets = append(fr.sets, &nft.Set{Name: affinity[e], Fields: f.AddrFields(), Dynamic: true, Timeout: s.AffinityTimeout})
	}
	balance := func(name string, eps []Endpoint, pre ...nft.Rule) {
		if len(eps) == 0 {
			return
		}
		rules := pre
		for _, e := range eps {
			rules = append(rules, f.Rule().SAddrIn(affinity[e], false).L4Proto(s.Protocol).DNAT(e.IP, e.Port))
		}
		for i, e := range eps {
			r := f.Rule().NumgenPick(i, len(eps)).UpdateSAddr(affinity[e], s.AffinityTimeout)
			rules = append(rules, r.L4Proto(s.Protocol).DNAT(e.IP, e.Port))
		}
		fr.chains = append(fr.chains, &nft.Chain{Name: name, Rules: rules})
	}
	var masq []nft.Rule
	if cidrs := cfg.clusterCIDRs(); len(cidrs) == 1 {
		masq = append(masq, f.Rule().SAddr(cidrs[0], true).SetMarkOr(cfg.mark()).Build())
	}
	balance(prefixService+id, cluster, masq...)
	if s.InternalLocal || s.ExternalLocal {
		balance(prefixLocal+id, local)
	}
	internal, internalEps := prefixService+id, cluster
	if s.InternalLocal {
		internal, internalEps = prefixLocal+id, local
	}
	dispatch := func(k nft.Key, vmap, none, noneLocal, chain string, has bool) {
		if has {
			v := nft.Goto(chain)
			fr.add(vmap, nft.Element{Key: k, Verdict: &v})
		} else {
			noEndpoints(fr, k, none, noneLocal, hasAny)
		}
	}
	dispatch(f.ServiceKey(s.ClusterIP, s.Protocol, s.Port), mapAffinityIPs, setNoEndpointIPs, setNoLocalIPs, internal, len(internalEps) > 0)
	addrs := externalAddrs(f, s)
	if len(addrs) == 0 && s.NodePort == 0 {
		return
	}
	ext, extEps := prefixExternal+id, cluster
	if s.ExternalLocal {
		extEps = local
	}
	if len(extEps) > 0 {
		fr.chains = append(fr.chains, affinityExternal(cfg, s, ext, internal, len(internalEps) > 0))
	}
	for _, a := range addrs {
		dispatch(f.ServiceKey(a, s.Protocol, s.Port), mapAffinityIPs, setNoEndpointIPs, setNoLocalIPs, ext, len(extEps) > 0)
	}
	if s.NodePort != 0 {
		dispatch(nft.ProtoPortKey(s.Protocol, s.NodePort), mapAffinityPorts, setNoEndpointPorts, setNoLocalPorts, ext, len(extEps) > 0)
	}
}

// affinityExternal is the chain for NodePort, externalIPs and LoadBalancer
// traffic of a Service with affinity: with externalTrafficPolicy Cluster
// it is masqueraded; with Local the client address is kept and only local
// endpoints are used, except for traffic from pods and from this host.
func affinityExternal(cfg Config, s *Service, name, internal string, hasInternal bool) *nft.Chain {
	f := cfg.Family
	c := &nft.Chain{Name: name}
	if !s.ExternalLocal {
		c.Rules = append(c.Rules, f.Rule().SetMarkOr(cfg.mark()).Build(), f.Rule().Verdict(nft.Goto(prefixService+s.Key())))
		return c
	}
	if hasInternal {
		c.Rules = externalLocal(cfg, internal, prefixLocal+s.Key())
		return c
	}
	c.Rules = append(c.Rules, f.Rule().Verdict(nft.Goto(prefixLocal+s.Key())))
	return c
}
