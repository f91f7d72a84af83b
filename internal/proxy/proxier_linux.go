package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
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
	needFull bool
	last     SyncStats
}

type entry struct {
	svc  Service
	frag *fragment
}

// SyncStats describes the last sync, for logs and benchmarks.
type SyncStats struct {
	Full     bool
	Changed  int // service ports whose rules changed
	Ops      int // netlink operations sent
	Duration time.Duration
}

// New builds a proxier; nothing is programmed before the first Sync.
func New(cfg Config, log *slog.Logger) (*Proxier, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Proxier{cfg: cfg, log: log.With("component", "proxy", "family", cfg.Family.String()),
		applied: map[string]*entry{}, needFull: true}, nil
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
// Invalid input is rejected before anything is programmed.
func (p *Proxier) Sync(services []Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	desired := make(map[string]*Service, len(services))
	for i := range services {
		s := &services[i]
		if err := s.validate(p.cfg.Family); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		k := s.Key()
		if _, dup := desired[k]; dup {
			return fmt.Errorf("proxy: service port %s listed twice", k)
		}
		desired[k] = s
	}
	if err := p.dial(); err != nil {
		return err
	}
	if p.needFull {
		return p.fullSync(desired)
	}
	err := p.partialSync(desired)
	if err == nil {
		return nil
	}
	p.log.Warn("partial sync failed, doing a full sync", "err", err)
	return p.fullSync(desired)
}

func (p *Proxier) fullSync(desired map[string]*Service) error {
	start := time.Now()
	t := skeleton(p.cfg)
	applied := make(map[string]*entry, len(desired))
	for k, s := range desired {
		fr := build(p.cfg, s)
		merge(t, fr)
		applied[k] = &entry{svc: cloneService(s), frag: fr}
	}
	tx := p.conn.Begin(p.cfg.Table, p.cfg.Family)
	tx.Recreate()
	tx.Full(t)
	if err := tx.Commit(); err != nil {
		p.needFull = true
		return fmt.Errorf("proxy: full sync: %w", err)
	}
	p.applied, p.needFull = applied, false
	p.last = SyncStats{Full: true, Changed: len(desired), Ops: tx.Ops(), Duration: time.Since(start)}
	p.log.Debug("full sync", "services", len(desired), "ops", tx.Ops(), "took", p.last.Duration)
	return nil
}

func (p *Proxier) partialSync(desired map[string]*Service) error {
	start := time.Now()
	var changes []*change
	next := make(map[string]*entry, len(desired))
	for k, s := range desired {
		old := p.applied[k]
		if old != nil && old.svc.equal(s) {
			next[k] = old
			continue
		}
		fr := build(p.cfg, s)
		var oldFrag *fragment
		if old != nil {
			oldFrag = old.frag
		}
		if c := diff(oldFrag, fr); !c.empty() {
			changes = append(changes, c)
		}
		next[k] = &entry{svc: cloneService(s), frag: fr}
	}
	for k, old := range p.applied {
		if _, ok := desired[k]; !ok {
			changes = append(changes, diff(old.frag, nil))
		}
	}
	if len(changes) == 0 {
		p.applied = next
		return nil
	}
	tx := p.conn.Begin(p.cfg.Table, p.cfg.Family)
	queue(tx, skeleton(p.cfg).Sets, changes)
	if err := tx.Commit(); err != nil {
		p.needFull = true
		return err
	}
	p.applied = next
	p.last = SyncStats{Changed: len(changes), Ops: tx.Ops(), Duration: time.Since(start)}
	return nil
}

// queue adds the changes to tx stage by stage, so that everything a rule or
// element names exists before it and is unreferenced before it goes.
func queue(tx *nft.Tx, maps map[string]*nft.Set, changes []*change) {
	for _, c := range changes {
		for _, s := range c.addSets {
			tx.AddSet(s)
		}
		for _, ch := range c.addChains {
			tx.AddChain(ch)
		}
	}
	for _, m := range skeletonMaps {
		var del, add []nft.Element
		for _, c := range changes {
			del = append(del, c.delElems[m]...)
			add = append(add, c.addElems[m]...)
		}
		tx.DelElements(maps[m], del)
		tx.AddElements(maps[m], add)
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
	skel := skeleton(p.cfg)
	want := skeleton(p.cfg)
	for _, e := range p.applied {
		merge(want, e.frag)
	}
	got, err := p.conn.Summarize(p.cfg.Table, p.cfg.Family, slices.Collect(maps.Keys(skel.Chains)), skeletonMaps)
	if err != nil {
		return "", fmt.Errorf("proxy: read table: %w", err)
	}
	if len(got.Chains) != len(want.Chains) {
		return fmt.Sprintf("%d chains, want %d", len(got.Chains), len(want.Chains)), nil
	}
	for name, c := range want.Chains {
		n, ok := got.Chains[name]
		if !ok {
			return "missing chain " + name, nil
		}
		if _, fixed := skel.Chains[name]; fixed && n != len(c.Rules) {
			return fmt.Sprintf("chain %s has %d rules, want %d", name, n, len(c.Rules)), nil
		}
	}
	if len(got.Sets) != len(want.Sets) {
		return fmt.Sprintf("%d sets, want %d", len(got.Sets), len(want.Sets)), nil
	}
	for _, m := range skeletonMaps {
		if got.Sets[m] != len(want.Sets[m].Elements) {
			return fmt.Sprintf("map %s has %d elements, want %d", m, got.Sets[m], len(want.Sets[m].Elements)), nil
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
	p.applied, p.needFull = map[string]*entry{}, true
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
