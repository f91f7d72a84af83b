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
	cfg := v4
	cfg.defaults()
	skel := skeleton(cfg, nil)
	out := map[string][]string{}
	for k, es := range m {
		set := skel.Sets[k]
		if prefix, n, ok := splitEndpointMap(k); ok {
			set = newEndpointMap(cfg.Family, prefix, n, 0)
		}
		for _, e := range es {
			switch {
			case e.Verdict != nil:
				out[k] = append(out[k], set.KeyText(e.Key)+" : "+e.Verdict.String())
			case e.Value != nil:
				out[k] = append(out[k], set.KeyText(e.Key)+" : "+set.ValueText(e.Value))
			default:
				out[k] = append(out[k], set.KeyText(e.Key))
			}
		}
		slices.Sort(out[k])
	}
	return out
}

// TestDiffOnlyWhatChanged checks that endpoint changes of any kind are
// element changes only: no chain or rule of a Service without affinity is
// ever written.
func TestDiffOnlyWhatChanged(t *testing.T) {
	cfg := v4
	cfg.defaults()
	epA, epB := ready("10.42.0.2", 80, true), ready("10.42.0.3", 80, true)
	one, two, none := web(epA), web(epA, epB), web()
	noChains := func(t *testing.T, c *change) {
		t.Helper()
		if len(c.addChains)+len(c.fillChains)+len(c.flushChains)+len(c.delChains)+len(c.addSets)+len(c.delSets) != 0 {
			t.Errorf("chains or sets touched: %+v", c)
		}
	}

	t.Run("unchanged", func(t *testing.T) {
		if c := diff(build(cfg, &two), build(cfg, &two)); !c.empty() {
			t.Fatalf("diff of equal fragments: %+v", c)
		}
	})
	t.Run("endpoint added", func(t *testing.T) {
		c := diff(build(cfg, &one), build(cfg, &two))
		noChains(t, c)
		wantDel := map[string][]string{
			mapEndpoints + "1":         {"10.43.0.10 . tcp . 80 . 0 : 10.42.0.2 . 80"},
			mapNodePortEndpoints + "1": {"tcp . 30080 . 0 : 10.42.0.2 . 80"},
		}
		if got := elemKeys(c.delElems); !mapsEqual(got, wantDel) {
			t.Errorf("deleted elements %v", got)
		}
		wantAdd := map[string][]string{
			mapEndpoints + "2":         {"10.43.0.10 . tcp . 80 . 0 : 10.42.0.2 . 80", "10.43.0.10 . tcp . 80 . 1 : 10.42.0.3 . 80"},
			mapNodePortEndpoints + "2": {"tcp . 30080 . 0 : 10.42.0.2 . 80", "tcp . 30080 . 1 : 10.42.0.3 . 80"},
		}
		if got := elemKeys(c.addElems); !mapsEqual(got, wantAdd) {
			t.Errorf("added elements %v", got)
		}
	})
	t.Run("endpoint replaced, same count", func(t *testing.T) {
		moved := web(epA, ready("10.42.0.9", 80, true))
		c := diff(build(cfg, &two), build(cfg, &moved))
		noChains(t, c)
		wantDel := map[string][]string{
			mapEndpoints + "2":         {"10.43.0.10 . tcp . 80 . 1 : 10.42.0.3 . 80"},
			mapNodePortEndpoints + "2": {"tcp . 30080 . 1 : 10.42.0.3 . 80"},
		}
		if got := elemKeys(c.delElems); !mapsEqual(got, wantDel) {
			t.Errorf("deleted elements %v", got)
		}
		wantAdd := map[string][]string{
			mapEndpoints + "2":         {"10.43.0.10 . tcp . 80 . 1 : 10.42.0.9 . 80"},
			mapNodePortEndpoints + "2": {"tcp . 30080 . 1 : 10.42.0.9 . 80"},
		}
		if got := elemKeys(c.addElems); !mapsEqual(got, wantAdd) {
			t.Errorf("added elements %v", got)
		}
	})
	t.Run("last endpoint gone", func(t *testing.T) {
		c := diff(build(cfg, &one), build(cfg, &none))
		noChains(t, c)
		want := map[string][]string{
			setClusterIPs:              {"10.43.0.10 . tcp . 80"},
			setNodePorts:               {"tcp . 30080"},
			mapEndpoints + "1":         {"10.43.0.10 . tcp . 80 . 0 : 10.42.0.2 . 80"},
			mapNodePortEndpoints + "1": {"tcp . 30080 . 0 : 10.42.0.2 . 80"},
		}
		if got := elemKeys(c.delElems); !mapsEqual(got, want) {
			t.Errorf("deleted elements %v", got)
		}
		wantAdd := map[string][]string{
			setNoEndpointIPs:   {"10.43.0.10 . tcp . 80"},
			setNoEndpointPorts: {"tcp . 30080"},
		}
		if got := elemKeys(c.addElems); !mapsEqual(got, wantAdd) {
			t.Errorf("added elements %v", got)
		}
	})
	t.Run("service removed", func(t *testing.T) {
		c := diff(build(cfg, &two), nil)
		noChains(t, c)
		if len(c.addElems) != 0 || len(c.delElems[mapEndpoints+"2"]) != 2 || len(c.delElems[setClusterIPs]) != 1 {
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
