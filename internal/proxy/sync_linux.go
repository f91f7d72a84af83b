package proxy

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"kserver.dev/kserver/internal/nft"
)

// whole is the state of the whole table for some Services.
type whole struct {
	applied map[string]*entry
	hairpin map[netip.Addr]int
	picks   pickCounts
	*assembled
}

func (p *Proxier) buildAll(desired map[string]*Service) *whole {
	w := &whole{applied: make(map[string]*entry, len(desired)), hairpin: map[netip.Addr]int{}, picks: pickCounts{}}
	frags := make([]*fragment, 0, len(desired))
	for k, s := range desired {
		fr := build(p.cfg, s)
		frags = append(frags, fr)
		w.applied[k] = &entry{svc: cloneService(s), frag: fr, fp: fr.fingerprint(), gen: p.gen}
		for _, a := range fr.hairpin {
			w.hairpin[a]++
		}
		w.picks.take(fr.picks)
	}
	w.assembled = assemble(p.cfg, frags)
	return w
}

// install makes w the applied state.
func (p *Proxier) install(w *whole) {
	p.applied, p.hairpin, p.picks, p.needFull = w.applied, w.hairpin, w.picks, false
	p.fp = w.fp
	p.skel, p.epMaps, p.elems = skeleton(p.cfg, setSizes(w.table)), map[string]*nft.Set{}, map[string]int{}
	for _, m := range elementSets {
		p.elems[m] = w.counts[m]
	}
	for pk := range w.picks {
		name := endpointMap(pk.m, pk.n)
		p.epMaps[name], p.elems[name] = w.table.Sets[name], w.counts[name]
	}
}

// fullSync re-creates the table holding desired in one transaction.
func (p *Proxier) fullSync(desired map[string]*Service) error {
	start := time.Now()
	w := p.buildAll(desired)
	tx := p.conn.Begin(p.cfg.Table, p.cfg.Family)
	tx.RecreateWith(w.table.Comment)
	tx.Full(w.table, w.elements())
	if err := tx.Commit(); err != nil {
		p.needFull = true
		return fmt.Errorf("proxy: full sync: %w", err)
	}
	p.install(w)
	p.last = SyncStats{Full: true, Changed: len(desired), Ops: tx.Ops(), Bytes: tx.Bytes(), Duration: time.Since(start)}
	p.log.Debug("full sync", "services", len(desired), "ops", tx.Ops(), "took", p.last.Duration)
	return nil
}

func setSizes(t *nft.Table) map[string]uint32 {
	sizes := map[string]uint32{}
	for name, s := range t.Sets {
		sizes[name] = s.Size
	}
	return sizes
}

// errNoRoom asks for a full sync: a set would outgrow its size.
var errNoRoom = errors.New("a set outgrows its size")

// partialSync applies the changes of some Service ports in one
// transaction of element changes; only endpoint counts coming into or
// going out of use add or delete a pick rule (and its endpoint map), and
// only Services with session affinity have chains of their own.
func (p *Proxier) partialSync(ups []pending, removed []string) error {
	start := time.Now()
	var changes []*change
	fresh := make(map[string]*entry, len(ups))
	refs := newRefDelta(p.hairpin)
	picks := maps.Clone(p.picks)
	for _, u := range ups {
		fr := build(p.cfg, u.svc)
		var oldFrag *fragment
		if old := p.applied[u.key]; old != nil {
			oldFrag = old.frag
			refs.drop(old.frag.hairpin)
			picks.drop(old.frag.picks)
		}
		refs.take(fr.hairpin)
		picks.take(fr.picks)
		if c := diff(oldFrag, fr); !c.empty() {
			changes = append(changes, c)
		}
		fresh[u.key] = &entry{svc: cloneService(u.svc), frag: fr, fp: fr.fingerprint(), gen: p.gen}
	}
	var gone []string
	for _, k := range removed {
		if old := p.applied[k]; old != nil && fresh[k] == nil {
			changes = append(changes, diff(old.frag, nil))
			refs.drop(old.frag.hairpin)
			picks.drop(old.frag.picks)
			gone = append(gone, k)
		}
	}
	added, dropped := refs.result()
	elems := p.countElems(changes, len(added)-len(dropped))
	newMaps, goneMaps := p.mapChanges(picks, elems)
	for m, n := range elems {
		if s := p.setDef(m, newMaps); s != nil && s.Size > 0 && uint32(n) > s.Size {
			return errNoRoom
		}
	}
	if len(changes) > 0 || len(added)+len(dropped) > 0 {
		handles, err := p.pickHandles(goneMaps)
		if err != nil {
			return err
		}
		fp := p.fp
		for _, u := range ups {
			if old := p.applied[u.key]; old != nil {
				fp ^= old.fp
			}
			fp ^= fresh[u.key].fp
		}
		for _, k := range gone {
			fp ^= p.applied[k].fp
		}
		for _, a := range slices.Concat(added, dropped) {
			fp ^= hairpinHash(p.cfg.Family, a)
		}
		tx := p.conn.Begin(p.cfg.Table, p.cfg.Family)
		tx.AddElements(p.skel.Sets[setHairpin], pairs(p.cfg.Family, added))
		p.queue(tx, changes, newMaps, goneMaps, handles)
		tx.DelElements(p.skel.Sets[setHairpin], pairs(p.cfg.Family, dropped))
		if fp != p.fp {
			tx.DelElements(p.skel.Sets[setFingerprint], []nft.Element{fingerprintElement(p.fp)})
			tx.AddElements(p.skel.Sets[setFingerprint], []nft.Element{fingerprintElement(fp)})
		}
		if err := tx.Commit(); err != nil {
			p.needFull = true
			return err
		}
		p.last = SyncStats{Changed: len(changes), Ops: tx.Ops(), Bytes: tx.Bytes(), Duration: time.Since(start)}
		p.fp = fp
	}
	for k, e := range fresh {
		p.applied[k] = e
	}
	for _, k := range gone {
		delete(p.applied, k)
	}
	refs.apply()
	for _, s := range newMaps {
		p.epMaps[s.Name] = s
	}
	for _, pk := range goneMaps {
		name := endpointMap(pk.m, pk.n)
		delete(p.epMaps, name)
		delete(elems, name)
	}
	p.picks, p.elems = picks, elems
	return nil
}

// mapChanges lists the endpoint maps to create (sized for their first
// elements) and those whose last list went away.
func (p *Proxier) mapChanges(picks pickCounts, elems map[string]int) (created []*nft.Set, gone []pick) {
	for pk := range picks {
		if name := endpointMap(pk.m, pk.n); p.epMaps[name] == nil {
			created = append(created, newEndpointMap(p.cfg.Family, pk.m, pk.n, sizeFor(elems[name])))
		}
	}
	for pk := range p.picks {
		if picks[pk] == 0 {
			gone = append(gone, pk)
		}
	}
	return created, gone
}

// setDef is the definition of a skeleton set or endpoint map.
func (p *Proxier) setDef(name string, created []*nft.Set) *nft.Set {
	if s := p.skel.Sets[name]; s != nil {
		return s
	}
	if s := p.epMaps[name]; s != nil {
		return s
	}
	for _, s := range created {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// countElems is the number of elements per set after changes.
func (p *Proxier) countElems(changes []*change, hairpin int) map[string]int {
	out := maps.Clone(p.elems)
	for _, c := range changes {
		for m, es := range c.addElems {
			out[m] += len(es)
		}
		for m, es := range c.delElems {
			out[m] -= len(es)
		}
	}
	out[setHairpin] += hairpin
	return out
}

// pickHandles finds the handles of the pick rules of the endpoint maps
// going away (by their numgen modulus).
func (p *Proxier) pickHandles(gone []pick) (map[pick]uint64, error) {
	out := map[pick]uint64{}
	byChain := map[string][]pick{}
	for _, pk := range gone {
		for _, pc := range pickChains {
			if pc.m == pk.m {
				byChain[pc.chain] = append(byChain[pc.chain], pk)
			}
		}
	}
	for chain, pks := range byChain {
		rules, err := p.conn.RuleHandles(p.cfg.Table, p.cfg.Family, chain)
		if err != nil {
			return nil, err
		}
		for _, pk := range pks {
			for _, r := range rules {
				if r.Numgen == uint32(pk.n) {
					out[pk] = r.Handle
				}
			}
			if out[pk] == 0 {
				return nil, fmt.Errorf("proxy: no rule for %d endpoints in %s", pk.n, chain)
			}
		}
	}
	return out, nil
}

// queue adds the changes to tx stage by stage, so that everything a rule or
// element names exists before it and is unreferenced before it goes.
// Endpoint maps for new counts come with their pick rule; a rule binding
// a map that already holds elements would make the kernel walk them all.
func (p *Proxier) queue(tx *nft.Tx, changes []*change, newMaps []*nft.Set, goneMaps []pick, handles map[pick]uint64) {
	for _, c := range changes {
		for _, s := range c.addSets {
			tx.AddSet(s)
		}
		for _, ch := range c.addChains {
			tx.AddChain(ch)
		}
	}
	for _, s := range newMaps {
		tx.AddSet(s)
		for _, pc := range pickChains {
			if prefix, n, ok := splitEndpointMap(s.Name); ok && prefix == pc.m {
				tx.AddRules(&nft.Chain{Name: pc.chain, Rules: []nft.Rule{pickRule(p.cfg, pc.m, n)}})
			}
		}
	}
	var epNames []string
	for _, c := range changes {
		for _, m := range slices.Concat(slices.Collect(maps.Keys(c.addElems)), slices.Collect(maps.Keys(c.delElems))) {
			if _, _, ok := splitEndpointMap(m); ok {
				epNames = append(epNames, m)
			}
		}
	}
	slices.Sort(epNames)
	for _, m := range slices.Concat(elementSets, slices.Compact(epNames)) {
		var del, add []nft.Element
		for _, c := range changes {
			del = append(del, c.delElems[m]...)
			add = append(add, c.addElems[m]...)
		}
		if s := p.setDef(m, newMaps); s != nil {
			tx.DelElements(s, del)
			tx.AddElements(s, add)
		}
	}
	for _, c := range changes {
		for _, ch := range c.flushChains {
			tx.FlushChain(ch)
		}
		for _, ch := range c.fillChains {
			tx.AddRules(ch)
		}
	}
	for _, c := range changes {
		for _, name := range c.delChains {
			tx.FlushChain(&nft.Chain{Name: name})
		}
	}
	for _, c := range changes {
		for _, name := range c.delChains {
			tx.DelChain(name)
		}
		for _, s := range c.delSets {
			tx.DelSet(s)
		}
	}
	for _, pk := range goneMaps {
		for _, pc := range pickChains {
			if pc.m == pk.m {
				tx.DelRule(pc.chain, handles[pk])
			}
		}
		tx.DelSet(p.epMaps[endpointMap(pk.m, pk.n)])
	}
}

// refDelta tracks changes to the reference counts of shared elements.
type refDelta struct {
	refs    map[netip.Addr]int
	touched map[netip.Addr]int // address -> change of its count
}

func newRefDelta(refs map[netip.Addr]int) *refDelta {
	return &refDelta{refs: refs, touched: map[netip.Addr]int{}}
}

func (d *refDelta) take(as []netip.Addr) {
	for _, a := range as {
		d.touched[a]++
	}
}

func (d *refDelta) drop(as []netip.Addr) {
	for _, a := range as {
		d.touched[a]--
	}
}

// result lists the addresses whose count goes from 0 to more, and to 0.
func (d *refDelta) result() (added, removed []netip.Addr) {
	for a, delta := range d.touched {
		before := d.refs[a]
		switch after := before + delta; {
		case before == 0 && after > 0:
			added = append(added, a)
		case before > 0 && after == 0:
			removed = append(removed, a)
		}
	}
	return added, removed
}

func (d *refDelta) apply() {
	for a, delta := range d.touched {
		if n := d.refs[a] + delta; n > 0 {
			d.refs[a] = n
		} else {
			delete(d.refs, a)
		}
	}
}

func pairs(f nft.Family, as []netip.Addr) []nft.Element {
	out := make([]nft.Element, len(as))
	for i, a := range as {
		out[i] = nft.Element{Key: f.AddrPairKey(a, a)}
	}
	return out
}

func cloneService(s *Service) Service {
	c := *s
	c.ExternalIPs = slices.Clone(s.ExternalIPs)
	c.LoadBalancerIPs = slices.Clone(s.LoadBalancerIPs)
	c.ProxiedLoadBalancerIPs = slices.Clone(s.ProxiedLoadBalancerIPs)
	c.Endpoints = slices.Clone(s.Endpoints)
	return c
}
