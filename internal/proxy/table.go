package proxy

import (
	"fmt"
	"net/netip"
	"slices"

	"kserver.dev/kserver/internal/nft"
)

// Ruleset is the whole table the proxier programs for these Services. It is
// what a full sync writes and what the golden tests print.
func Ruleset(cfg Config, services []Service) (*nft.Table, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	frags := make([]*fragment, 0, len(services))
	for i := range services {
		s := &services[i]
		if err := s.validate(cfg.Family); err != nil {
			return nil, err
		}
		if seen[s.Key()] {
			return nil, fmt.Errorf("proxy: service port %s listed twice", s.Key())
		}
		seen[s.Key()] = true
		frags = append(frags, build(cfg, s))
	}
	a := assemble(cfg, frags)
	for m, es := range a.elements() {
		for _, e := range es {
			a.table.Sets[m].AddElement(e)
		}
	}
	return a.table, nil
}

// assembled is the table holding some fragments: the skeleton with room
// for their elements, their chains and sets, and the pick rules for the
// endpoint counts they use. The elements of the skeleton's sets and of
// the endpoint maps are counted; elements() lists them.
type assembled struct {
	table   *nft.Table
	counts  map[string]int // elements per set
	frags   []*fragment
	hairpin []netip.Addr
	fp      uint64 // fingerprint
}

func assemble(cfg Config, frags []*fragment) *assembled {
	a := &assembled{counts: map[string]int{}, frags: frags}
	picks := pickCounts{}
	hairpin := map[netip.Addr]bool{}
	for _, fr := range frags {
		for _, se := range fr.elems {
			a.counts[se.set] += len(se.es)
		}
		picks.take(fr.picks)
		for _, h := range fr.hairpin {
			hairpin[h] = true
		}
		a.fp ^= fr.fingerprint()
	}
	for h := range hairpin {
		a.hairpin = append(a.hairpin, h)
		a.fp ^= hairpinHash(cfg.Family, h)
	}
	a.counts[setHairpin], a.counts[setFingerprint] = len(hairpin), 1
	sizes := map[string]uint32{}
	for m, n := range a.counts {
		sizes[m] = sizeFor(n)
	}
	t := skeleton(cfg, sizes)
	t.Comment = layoutComment(cfg)
	for p := range picks {
		name := endpointMap(p.m, p.n)
		t.AddSet(newEndpointMap(cfg.Family, p.m, p.n, sizes[name]))
	}
	for _, fr := range frags {
		for _, c := range fr.chains {
			t.AddChain(c)
		}
		for _, s := range fr.sets {
			t.AddSet(s)
		}
	}
	for _, pc := range pickChains {
		t.Chains[pc.chain].Rules = pickRules(cfg, pc.chain, pc.m, picks.counts(pc.m))
	}
	a.table = t
	return a
}

// elements lists the elements of the skeleton's sets and endpoint maps.
func (a *assembled) elements() map[string][]nft.Element {
	elems := make(map[string][]nft.Element, len(a.counts))
	for m, n := range a.counts {
		elems[m] = make([]nft.Element, 0, n)
	}
	for _, fr := range a.frags {
		for _, se := range fr.elems {
			elems[se.set] = append(elems[se.set], se.es...)
		}
	}
	for _, h := range a.hairpin {
		elems[setHairpin] = append(elems[setHairpin], nft.Element{Key: a.table.Family.AddrPairKey(h, h)})
	}
	elems[setFingerprint] = []nft.Element{fingerprintElement(a.fp)}
	return elems
}

// sizeFor is the size a set gets for n elements: twice that, at least
// minSetSize, rounded up to a power of two, so that partial syncs have
// room to grow before a full sync must re-create the set larger.
func sizeFor(n int) uint32 {
	size := minSetSize
	for size < uint32(2*n) {
		size *= 2
	}
	return size
}

// pickCounts counts the fragments using each endpoint count per map.
type pickCounts map[pick]int

func (pc pickCounts) take(ps []pick) {
	for _, p := range ps {
		pc[p]++
	}
}

func (pc pickCounts) drop(ps []pick) {
	for _, p := range ps {
		if pc[p]--; pc[p] <= 0 {
			delete(pc, p)
		}
	}
}

// counts are the endpoint counts in use in map m, ascending.
func (pc pickCounts) counts(m string) []int {
	var out []int
	for p := range pc {
		if p.m == m {
			out = append(out, p.n)
		}
	}
	slices.Sort(out)
	return out
}

// change is the difference between two fragments of one Service port, in
// the order a transaction must apply it.
type change struct {
	addSets     []*nft.Set
	addChains   []*nft.Chain // new chains (created empty, then filled)
	delElems    map[string][]nft.Element
	addElems    map[string][]nft.Element
	fillChains  []*nft.Chain // new or changed chains: flush (if old) and add rules
	flushChains []*nft.Chain // changed chains that existed before
	delChains   []string     // removed chains (flushed, then deleted)
	delSets     []*nft.Set
}

func (c *change) empty() bool {
	return len(c.addSets)+len(c.addChains)+len(c.delElems)+len(c.addElems)+len(c.fillChains)+len(c.delChains)+len(c.delSets) == 0
}

// diff computes what turns old into new (either may be nil).
func diff(old, new *fragment) *change {
	if old == nil {
		old = &fragment{}
	}
	if new == nil {
		new = &fragment{}
	}
	c := &change{delElems: map[string][]nft.Element{}, addElems: map[string][]nft.Element{}}
	oldChains := map[string]*nft.Chain{}
	for _, ch := range old.chains {
		oldChains[ch.Name] = ch
	}
	newChains := map[string]bool{}
	for _, ch := range new.chains {
		newChains[ch.Name] = true
		prev, ok := oldChains[ch.Name]
		switch {
		case !ok:
			c.addChains = append(c.addChains, ch)
			c.fillChains = append(c.fillChains, ch)
		case !prev.Equal(ch):
			c.flushChains = append(c.flushChains, ch)
			c.fillChains = append(c.fillChains, ch)
		}
	}
	for _, ch := range old.chains {
		if !newChains[ch.Name] {
			c.delChains = append(c.delChains, ch.Name)
		}
	}
	oldSets := map[string]*nft.Set{}
	for _, s := range old.sets {
		oldSets[s.Name] = s
	}
	newSets := map[string]bool{}
	for _, s := range new.sets {
		newSets[s.Name] = true
		if prev, ok := oldSets[s.Name]; !ok || prev.Timeout != s.Timeout {
			if ok {
				c.delSets = append(c.delSets, prev) // timeout changed: recreate
			}
			c.addSets = append(c.addSets, s)
		}
	}
	for _, s := range old.sets {
		if !newSets[s.Name] {
			c.delSets = append(c.delSets, s)
		}
	}
	sets := map[string]bool{}
	for _, se := range slices.Concat(old.elems, new.elems) {
		sets[se.set] = true
	}
	for m := range sets {
		diffElems(c, m, old.list(m), new.list(m))
	}
	for m, v := range c.delElems {
		if len(v) == 0 {
			delete(c.delElems, m)
		}
	}
	for m, v := range c.addElems {
		if len(v) == 0 {
			delete(c.addElems, m)
		}
	}
	return c
}

func diffElems(c *change, m string, old, new []nft.Element) {
	prev := map[string]nft.Element{}
	for _, e := range old {
		prev[string(e.Key.Bytes)] = e
	}
	kept := map[string]bool{}
	for _, e := range new {
		k := string(e.Key.Bytes)
		p, ok := prev[k]
		if ok && p.Same(e) {
			kept[k] = true
			continue
		}
		if ok {
			c.delElems[m] = append(c.delElems[m], p) // verdict or value changed: replace
			kept[k] = true
		}
		c.addElems[m] = append(c.addElems[m], e)
	}
	for _, e := range old {
		if !kept[string(e.Key.Bytes)] {
			c.delElems[m] = append(c.delElems[m], e)
		}
	}
}
