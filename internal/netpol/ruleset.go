package netpol

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"slices"

	"kserver.dev/kserver/internal/nft"
)

// Config is the enforcer's configuration for one address family.
type Config struct {
	Family nft.Family
	Table  string // default "kserver-netpol"
	// IngressBit and EgressBit are the packet-mark bits meaning "allowed"
	// (defaults 0x20000 and 0x10000, clear of the proxy's 0x4000).
	IngressBit, EgressBit uint32
	NetNSFd               int // program this namespace (tests)
}

func (c *Config) defaults() {
	if c.Family == 0 {
		c.Family = nft.IPv4
	}
	if c.Table == "" {
		c.Table = "kserver-netpol"
	}
	if c.IngressBit == 0 {
		c.IngressBit = 0x20000
	}
	if c.EgressBit == 0 {
		c.EgressBit = 0x10000
	}
}

type direction struct {
	name      string // "ingress" / "egress"
	podMap    string // verdict map: local pod address -> per-pod chain
	isolated  string // set of isolated local pods
	bit       uint32
	peerIsSrc bool
}

func directions(c Config) [2]direction {
	return [2]direction{
		{name: "egress", podMap: "egress-pods", isolated: "egress-isolated", bit: c.EgressBit, peerIsSrc: false},
		{name: "ingress", podMap: "ingress-pods", isolated: "ingress-isolated", bit: c.IngressBit, peerIsSrc: true},
	}
}

// Ruleset is the whole table for these policies.
func Ruleset(c Config, policies []Policy) (*nft.Table, error) {
	c.defaults()
	f := c.Family
	t := nft.NewTable(c.Table, f)
	bits := c.IngressBit | c.EgressBit
	fwd := []nft.Rule{
		f.Rule().CtState("established", "related").Verdict(nft.Accept),
		f.Rule().ClearMark(bits).Build(),
	}
	for _, d := range directions(c) {
		t.AddSet(&nft.Set{Name: d.podMap, Fields: f.AddrFields(), Map: true})
		t.AddSet(&nft.Set{Name: d.isolated, Fields: f.AddrFields()})
		field := "saddr"
		if d.name == "ingress" {
			field = "daddr"
		}
		fwd = append(fwd,
			f.Rule().AddrVmap(field, d.podMap),
			f.Rule().AddrInSet(field, d.isolated).MarkSet(d.bit, true).Verdict(nft.Drop))
	}
	fwd = append(fwd, f.Rule().ClearMark(bits).Build())
	t.AddChain(&nft.Chain{Name: "forward", Base: &nft.Base{Type: "filter", Hook: nft.Forward, Priority: nft.PriorityFilter}, Rules: fwd})

	seen := map[string]bool{}
	podChains := map[string]*nft.Chain{} // per pod and direction
	for i := range policies {
		p := &policies[i]
		if err := p.validate(f); err != nil {
			return nil, err
		}
		if seen[p.Key()] {
			return nil, fmt.Errorf("netpol: policy %s listed twice", p.Key())
		}
		seen[p.Key()] = true
		for _, d := range directions(c) {
			on, rules := p.Egress, p.EgressRules
			if d.name == "ingress" {
				on, rules = p.Ingress, p.IngressRules
			}
			if !on {
				continue
			}
			chain := policyChain(t, c, p, d, rules)
			for _, a := range p.Pods {
				if !f.Has(a) {
					continue
				}
				pc := podChain(t, podChains, f, d, a)
				pc.Rules = append(pc.Rules, f.Rule().Verdict(nft.Jump(chain)))
			}
		}
	}
	return t, nil
}

// podChain returns the chain of one pod and direction, creating it and
// its map elements on first use.
func podChain(t *nft.Table, chains map[string]*nft.Chain, f nft.Family, d direction, a netip.Addr) *nft.Chain {
	name := fmt.Sprintf("%s-%s", d.name, a)
	if c, ok := chains[name]; ok {
		return c
	}
	c := t.AddChain(&nft.Chain{Name: name})
	chains[name] = c
	v := nft.Jump(name)
	t.Sets[d.podMap].AddElement(nft.Element{Key: f.AddrKey(a), Verdict: &v})
	t.Sets[d.isolated].AddElement(nft.Element{Key: f.AddrKey(a)})
	return c
}

// policyChain writes one policy's rules of one direction: each matching
// rule sets the direction's bit and returns.
func policyChain(t *nft.Table, c Config, p *Policy, d direction, rules []Rule) string {
	f := c.Family
	name := fmt.Sprintf("policy-%s-%s", p.Key(), d.name)
	ch := t.AddChain(&nft.Chain{Name: name})
	field := "daddr"
	if d.peerIsSrc {
		field = "saddr"
	}
	for i, r := range rules {
		var set string
		if len(r.Peers) > 0 {
			spans := peerSpans(f, r.Peers)
			if len(spans) == 0 {
				continue // no peer of this family: the rule allows nothing here
			}
			set = peerSet(p, d, i)
			s := t.AddSet(&nft.Set{Name: set, Fields: f.AddrFields(), Interval: true})
			for _, sp := range spans {
				s.AddElement(nft.Element{Key: sp.key(f)})
			}
		}
		match := func() *nft.R {
			r := f.Rule()
			if set != "" {
				r = r.AddrInSet(field, set)
			}
			return r
		}
		if len(r.Ports) == 0 {
			ch.Rules = append(ch.Rules, match().SetMarkOr(d.bit).Verdict(nft.Return))
			continue
		}
		for _, pt := range sortedPorts(r.Ports) {
			m := match().L4Proto(pt.Protocol)
			if pt.Port != 0 {
				m = m.DPortRange(pt.Port, max(pt.Port, pt.EndPort))
			}
			ch.Rules = append(ch.Rules, m.SetMarkOr(d.bit).Verdict(nft.Return))
		}
	}
	return name
}

func sortedPorts(ps []Port) []Port {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b Port) int {
		if a.Protocol != b.Protocol {
			return int(a.Protocol) - int(b.Protocol)
		}
		return int(a.Port) - int(b.Port)
	})
	return out
}

// peerSet names a rule's peer set; hashed, as older kernels limit set
// names to 32 bytes.
func peerSet(p *Policy, d direction, i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", p.Key(), d.name, i)))
	return "peers-" + base32.StdEncoding.EncodeToString(sum[:10])
}
