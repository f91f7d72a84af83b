package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"kserver.dev/kserver/internal/nft"
)

// Proxier programs our nftables table from the desired Services of one
// address family. Sync applies only what changed since the last Sync, in
// one netlink transaction; the first Sync, a failed transaction and drift
// found by Resync lead to a full sync that re-creates the table atomically.
type Proxier struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	conn     *nft.Conn
	applied  map[string]*entry
	hairpin  map[netip.Addr]int // endpoint address -> Service ports using it
	picks    pickCounts         // endpoint counts in use, per endpoint map
	skel     *nft.Table         // the skeleton as last created (set sizes)
	elems    map[string]int     // elements per skeleton set
	gen      uint64
	needFull bool
	last     SyncStats
}

type entry struct {
	svc  Service
	frag *fragment
	gen  uint64 // the Sync that last listed it
}

// SyncStats describes the last sync, for logs and benchmarks.
type SyncStats struct {
	Full     bool
	Changed  int // service ports whose rules changed
	Ops      int // netlink messages sent
	Bytes    int // size of the netlink batch
	Duration time.Duration
}

// New builds a proxier; nothing is programmed before the first Sync.
func New(cfg Config, log *slog.Logger) (*Proxier, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Proxier{cfg: cfg, log: log.With("component", "proxy", "family", cfg.Family.String()),
		applied: map[string]*entry{}, hairpin: map[netip.Addr]int{}, picks: pickCounts{}, needFull: true}, nil
}

func (p *Proxier) dial() error {
	if p.conn != nil {
		return nil
	}
	c, err := nft.Dial(p.cfg.NetNSFd)
	if err != nil {
		return err
	}
	p.conn = c
	return nil
}

// LastSync reports what the last successful sync did.
func (p *Proxier) LastSync() SyncStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Sync makes the table match services (all Service ports of this family).
// Invalid input is rejected before anything is programmed. Finding what
// changed costs one map lookup and comparison per Service port; the agent
// may call Update instead when it knows what changed.
func (p *Proxier) Sync(services []Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range services {
		if err := services[i].validate(p.cfg.Family); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
	}
	p.gen++
	var ups []pending
	fresh := map[string]bool{}
	for i := range services {
		s := &services[i]
		k := s.Key()
		if e := p.applied[k]; e != nil {
			if e.gen == p.gen {
				return fmt.Errorf("proxy: service port %s listed twice", k)
			}
			e.gen = p.gen
			if e.svc.equal(s) {
				continue
			}
		} else {
			if fresh[k] {
				return fmt.Errorf("proxy: service port %s listed twice", k)
			}
			fresh[k] = true
		}
		ups = append(ups, pending{key: k, svc: s})
	}
	var removed []string
	for k, e := range p.applied {
		if e.gen != p.gen {
			removed = append(removed, k)
		}
	}
	return p.update(ups, removed)
}

// Update adds or replaces the given Service ports and removes the ones
// named in removed (by Service.Key), leaving all others as they are.
func (p *Proxier) Update(upserts []Service, removed []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ups := make([]pending, 0, len(upserts))
	seen := map[string]bool{}
	for i := range upserts {
		s := &upserts[i]
		if err := s.validate(p.cfg.Family); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		k := s.Key()
		if seen[k] {
			return fmt.Errorf("proxy: service port %s listed twice", k)
		}
		seen[k] = true
		if e := p.applied[k]; e == nil || !e.svc.equal(s) {
			ups = append(ups, pending{key: k, svc: s})
		}
	}
	return p.update(ups, removed)
}

type pending struct {
	key string
	svc *Service
}

func (p *Proxier) update(ups []pending, removed []string) error {
	if err := p.dial(); err != nil {
		return err
	}
	if !p.needFull {
		err := p.partialSync(ups, removed)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errNoRoom):
			p.log.Debug("sets grow, doing a full sync", "err", err)
		default:
			p.log.Warn("partial sync failed, doing a full sync", "err", err)
		}
	}
	desired := make(map[string]*Service, len(p.applied)+len(ups))
	for k, e := range p.applied {
		desired[k] = &e.svc
	}
	for _, k := range removed {
		delete(desired, k)
	}
	for _, u := range ups {
		desired[u.key] = u.svc
	}
	return p.fullSync(desired)
}

func (p *Proxier) fullSync(desired map[string]*Service) error {
	start := time.Now()
	applied := make(map[string]*entry, len(desired))
	frags := make([]*fragment, 0, len(desired))
	hairpin := map[netip.Addr]int{}
	picks := pickCounts{}
	for k, s := range desired {
		fr := build(p.cfg, s)
		frags = append(frags, fr)
		applied[k] = &entry{svc: cloneService(s), frag: fr, gen: p.gen}
		for _, a := range fr.hairpin {
			hairpin[a]++
		}
		picks.take(fr.picks)
	}
	t, elems := assemble(p.cfg, frags)
	tx := p.conn.Begin(p.cfg.Table, p.cfg.Family)
	tx.Recreate()
	tx.Full(t, elems)
	if err := tx.Commit(); err != nil {
		p.needFull = true
		return fmt.Errorf("proxy: full sync: %w", err)
	}
	p.applied, p.hairpin, p.picks, p.needFull = applied, hairpin, picks, false
	p.skel, p.elems = skeleton(p.cfg, setSizes(t)), map[string]int{}
	for _, m := range elementSets {
		p.elems[m] = len(elems[m])
	}
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
		fresh[u.key] = &entry{svc: cloneService(u.svc), frag: fr, gen: p.gen}
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
	for m, n := range elems {
		if size := p.skel.Sets[m].Size; size > 0 && uint32(n) > size {
			return errNoRoom
		}
	}
	if len(changes) > 0 || len(added)+len(dropped) > 0 {
		tx := p.conn.Begin(p.cfg.Table, p.cfg.Family)
		tx.AddElements(p.skel.Sets[setHairpin], pairs(p.cfg.Family, added))
		p.queue(tx, changes, picks)
		tx.DelElements(p.skel.Sets[setHairpin], pairs(p.cfg.Family, dropped))
		if err := tx.Commit(); err != nil {
			p.needFull = true
			return err
		}
		p.last = SyncStats{Changed: len(changes), Ops: tx.Ops(), Bytes: tx.Bytes(), Duration: time.Since(start)}
	}
	for k, e := range fresh {
		p.applied[k] = e
	}
	for _, k := range gone {
		delete(p.applied, k)
	}
	refs.apply()
	p.picks, p.elems = picks, elems
	return nil
}

// countElems is the number of elements per skeleton set after changes.
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

// queue adds the changes to tx stage by stage, so that everything a rule or
// element names exists before it and is unreferenced before it goes. Pick
// chains whose endpoint counts changed are rewritten.
func (p *Proxier) queue(tx *nft.Tx, changes []*change, picks pickCounts) {
	for _, c := range changes {
		for _, s := range c.addSets {
			tx.AddSet(s)
		}
		for _, ch := range c.addChains {
			tx.AddChain(ch)
		}
	}
	for _, pc := range pickChains {
		if counts := picks.counts(pc.m); !slices.Equal(counts, p.picks.counts(pc.m)) {
			ch := &nft.Chain{Name: pc.chain, Rules: pickRules(p.cfg, pc.chain, pc.m, counts)}
			tx.FlushChain(ch)
			tx.AddRules(ch)
		}
	}
	for _, m := range elementSets {
		var del, add []nft.Element
		for _, c := range changes {
			del = append(del, c.delElems[m]...)
			add = append(add, c.addElems[m]...)
		}
		tx.DelElements(p.skel.Sets[m], del)
		tx.AddElements(p.skel.Sets[m], add)
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
	c.Endpoints = slices.Clone(s.Endpoints)
	return c
}

// Resync compares the shape of the kernel's table with what was applied
// (chains, sets, the base chains' rules, the dispatch maps' elements) and
// re-creates the table when they differ: someone deleted or edited it.
func (p *Proxier) Resync() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.dial(); err != nil {
		return err
	}
	desired := make(map[string]*Service, len(p.applied))
	for k, e := range p.applied {
		desired[k] = &e.svc
	}
	if p.needFull {
		return p.fullSync(desired)
	}
	drift, err := p.drift()
	if err != nil {
		return err
	}
	if drift == "" {
		return nil
	}
	p.log.Warn("table drifted from the desired state, re-creating it", "drift", drift)
	return p.fullSync(desired)
}

func (p *Proxier) drift() (string, error) {
	want := skeleton(p.cfg, setSizes(p.skel))
	for _, pc := range pickChains {
		want.Chains[pc.chain].Rules = pickRules(p.cfg, pc.chain, pc.m, p.picks.counts(pc.m))
	}
	fixed := slices.Collect(maps.Keys(want.Chains))
	for _, e := range p.applied {
		for _, c := range e.frag.chains {
			want.AddChain(c)
		}
		for _, s := range e.frag.sets {
			want.AddSet(s)
		}
	}
	got, err := p.conn.Summarize(p.cfg.Table, p.cfg.Family, fixed, elementSets)
	if err != nil {
		return "", fmt.Errorf("proxy: read table: %w", err)
	}
	if len(got.Chains) != len(want.Chains) {
		return fmt.Sprintf("%d chains, want %d", len(got.Chains), len(want.Chains)), nil
	}
	for _, name := range fixed {
		if n, ok := got.Chains[name]; !ok || n != len(want.Chains[name].Rules) {
			return fmt.Sprintf("chain %s has %d rules, want %d", name, n, len(want.Chains[name].Rules)), nil
		}
	}
	for name := range want.Chains {
		if _, ok := got.Chains[name]; !ok {
			return "missing chain " + name, nil
		}
	}
	if len(got.Sets) != len(want.Sets) {
		return fmt.Sprintf("%d sets, want %d", len(got.Sets), len(want.Sets)), nil
	}
	for _, m := range elementSets {
		if got.Sets[m] != p.elems[m] {
			return fmt.Sprintf("set %s has %d elements, want %d", m, got.Sets[m], p.elems[m]), nil
		}
	}
	return "", nil
}

// Run checks for drift every ResyncPeriod until ctx ends.
func (p *Proxier) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.ResyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := p.Resync(); err != nil {
				p.log.Error("resync failed", "err", err)
			}
		}
	}
}

// Cleanup removes our table (`--disable proxy`, uninstall) and forgets what
// was applied; other tables are never touched.
func (p *Proxier) Cleanup() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.dial(); err != nil {
		return err
	}
	if err := p.conn.DeleteTable(p.cfg.Table, p.cfg.Family); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	p.applied, p.hairpin, p.picks, p.needFull = map[string]*entry{}, map[netip.Addr]int{}, pickCounts{}, true
	return nil
}

// Close releases the netlink connection.
func (p *Proxier) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		return nil
	}
	err := p.conn.Close()
	p.conn = nil
	return err
}
