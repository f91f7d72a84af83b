package proxy

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"kserver.dev/kserver/internal/nft"
)

func chainNames(cs []*nft.Chain) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func elemKeys(m map[string][]nft.Element) map[string][]string {
	out := map[string][]string{}
	for k, es := range m {
		for _, e := range es {
			if e.Verdict != nil {
				out[k] = append(out[k], e.Key.Text+" : "+e.Verdict.String())
			} else {
				out[k] = append(out[k], e.Key.Text+" : "+e.Value.Text)
			}
		}
		slices.Sort(out[k])
	}
	return out
}

func TestDiffOnlyWhatChanged(t *testing.T) {
	cfg := v4
	cfg.defaults()
	epA, epB := ready("10.42.0.2", 80, true), ready("10.42.0.3", 80, true)
	const svcChain, extChain = "service-default/web/tcp/p80", "external-default/web/tcp/p80"
	one, two, none := web(epA), web(epA, epB), web()

	t.Run("unchanged", func(t *testing.T) {
		if c := diff(build(cfg, &two), build(cfg, &two)); !c.empty() {
			t.Fatalf("diff of equal fragments: %+v", c)
		}
	})
	slot := func(i uint32) string {
		return nft.SlotKey(i, chainID(svcChain)).Text
	}
	t.Run("endpoint added", func(t *testing.T) {
		c := diff(build(cfg, &one), build(cfg, &two))
		if got := chainNames(c.flushChains); !slices.Equal(got, []string{svcChain}) {
			t.Errorf("rewritten chains %v (the modulus changes)", got)
		}
		want := map[string][]string{endpointMap(chainID(svcChain)): {slot(1) + " : 10.42.0.3 . 80"}}
		if got := elemKeys(c.addElems); !mapsEqual(got, want) {
			t.Errorf("added elements %v", got)
		}
		if len(c.addChains)+len(c.delChains)+len(c.delElems) != 0 {
			t.Errorf("unexpected chain or element changes: %+v", c)
		}
	})
	t.Run("endpoint replaced, same count", func(t *testing.T) {
		moved := web(epA, ready("10.42.0.9", 80, true))
		c := diff(build(cfg, &two), build(cfg, &moved))
		if len(c.flushChains)+len(c.addChains)+len(c.delChains) != 0 {
			t.Errorf("chains touched: %+v", c)
		}
		if got := elemKeys(c.delElems); !mapsEqual(got, map[string][]string{endpointMap(chainID(svcChain)): {slot(1) + " : 10.42.0.3 . 80"}}) {
			t.Errorf("deleted elements %v", got)
		}
		if got := elemKeys(c.addElems); !mapsEqual(got, map[string][]string{endpointMap(chainID(svcChain)): {slot(1) + " : 10.42.0.9 . 80"}}) {
			t.Errorf("added elements %v", got)
		}
	})
	t.Run("last endpoint gone", func(t *testing.T) {
		c := diff(build(cfg, &one), build(cfg, &none))
		want := map[string][]string{
			mapServiceIPs:                  {"10.43.0.10 . tcp . 80 : goto " + svcChain},
			mapServiceNodePorts:            {"tcp . 30080 : goto " + extChain},
			endpointMap(chainID(svcChain)): {slot(0) + " : 10.42.0.2 . 80"},
		}
		if got := elemKeys(c.delElems); !mapsEqual(got, want) {
			t.Errorf("deleted elements %v", got)
		}
		wantAdd := map[string][]string{
			mapNoEndpointIPs:   {"10.43.0.10 . tcp . 80 : goto reject-chain"},
			mapNoEndpointPorts: {"tcp . 30080 : goto reject-chain"},
		}
		if got := elemKeys(c.addElems); !mapsEqual(got, wantAdd) {
			t.Errorf("added elements %v", got)
		}
		slices.Sort(c.delChains)
		if !slices.Equal(c.delChains, []string{extChain, svcChain}) {
			t.Errorf("deleted chains %v", c.delChains)
		}
	})
	t.Run("service removed", func(t *testing.T) {
		c := diff(build(cfg, &two), nil)
		if len(c.delChains) != 2 || len(c.addChains)+len(c.addElems) != 0 || len(c.delElems[endpointMap(chainID(svcChain))]) != 2 {
			t.Errorf("removal: %+v", c)
		}
	})
	t.Run("affinity timeout changed recreates sets", func(t *testing.T) {
		a, b := two, two
		a.AffinityTimeout, b.AffinityTimeout = time.Minute, time.Hour
		c := diff(build(cfg, &a), build(cfg, &b))
		if len(c.delSets) != 2 || len(c.addSets) != 2 {
			t.Errorf("sets deleted %d added %d", len(c.delSets), len(c.addSets))
		}
	})
}

func TestHairpinReferenceCounts(t *testing.T) {
	a, b := ip("10.42.0.2"), ip("10.42.0.3")
	refs := map[netip.Addr]int{a: 2}
	d := newRefDelta(refs)
	d.drop([]netip.Addr{a}) // one of two users goes: a stays
	d.take([]netip.Addr{b}) // first user of b
	added, removed := d.result()
	if !slices.Equal(added, []netip.Addr{b}) || len(removed) != 0 {
		t.Fatalf("added %v removed %v", added, removed)
	}
	d.apply()
	d = newRefDelta(refs)
	d.drop([]netip.Addr{b})
	d.take([]netip.Addr{a})
	added, removed = d.result()
	if len(added) != 0 || !slices.Equal(removed, []netip.Addr{b}) {
		t.Fatalf("second round: added %v removed %v (refs %v)", added, removed, refs)
	}
	d.apply()
	if _, ok := refs[b]; refs[a] != 2 || ok {
		t.Fatalf("refs %v", refs)
	}
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestCategorizeEndpoints(t *testing.T) {
	term := func(a string, local bool) Endpoint {
		return Endpoint{IP: ip(a), Port: 80, Serving: true, Terminating: true, Local: local}
	}
	cases := []struct {
		name           string
		eps            []Endpoint
		cluster, local int
		hasAny         bool
	}{
		{"ready only", []Endpoint{ready("10.42.0.2", 80, true), ready("10.42.1.2", 80, false)}, 2, 1, true},
		{"ready beats terminating", []Endpoint{ready("10.42.1.2", 80, false), term("10.42.0.3", true)}, 1, 1, true},
		{"terminating fallback", []Endpoint{term("10.42.0.3", true), term("10.42.1.3", false)}, 2, 1, true},
		{"not serving ignored", []Endpoint{{IP: ip("10.42.0.4"), Port: 80, Terminating: true}}, 0, 0, false},
		{"none", nil, 0, 0, false},
	}
	for _, tc := range cases {
		s := web(tc.eps...)
		c, l, any := categorize(&s)
		if len(c) != tc.cluster || len(l) != tc.local || any != tc.hasAny {
			t.Errorf("%s: cluster %d local %d any %v", tc.name, len(c), len(l), any)
		}
	}
}
