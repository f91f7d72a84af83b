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
	hairpin  map[netip.Addr]int  // endpoint address -> Service ports using it
	picks    pickCounts          // endpoint counts in use, per endpoint map prefix
	skel     *nft.Table          // the skeleton as last created (set sizes)
	epMaps   map[string]*nft.Set // the endpoint maps, by name
	elems    map[string]int      // elements per skeleton set and endpoint map
	fp       uint64              // fingerprint of the table's content
	gen      uint64
	needFull bool
	last     SyncStats
}

type entry struct {
	svc  Service
	frag *fragment
	fp   uint64 // the fragment's fingerprint
	gen  uint64 // the Sync that last listed it
}

// SyncStats describes the last sync, for logs and benchmarks.
type SyncStats struct {
	Full     bool // the whole table was written (or, Adopted, compared)
	Adopted  bool // a table left by an earlier run was taken over
	Changed  int  // service ports whose rules changed
	Ops      int  // netlink messages sent
	Bytes    int  // size of the netlink batch
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
	if p.skel == nil {
		// The first sync of this process: a table left by an earlier
		// run (a restart) is taken over when it has our layout.
		ok, err := p.adopt(desired)
		if ok {
			return nil
		}
		if err != nil {
			p.log.Warn("reading the table left by an earlier run failed, re-creating it", "err", err)
		}
	}
	return p.fullSync(desired)
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
	for _, s := range p.epMaps {
		want.AddSet(s)
	}
	for _, e := range p.applied {
		for _, c := range e.frag.chains {
			want.AddChain(c)
		}
		for _, s := range e.frag.sets {
			want.AddSet(s)
		}
	}
	counted := slices.Collect(maps.Keys(p.elems))
	got, err := p.conn.Summarize(p.cfg.Table, p.cfg.Family, counted)
	if err != nil {
		return "", fmt.Errorf("proxy: read table: %w", err)
	}
	if len(got.Chains) != len(want.Chains) {
		return fmt.Sprintf("%d chains, want %d", len(got.Chains), len(want.Chains)), nil
	}
	for name, c := range want.Chains {
		if n, ok := got.Chains[name]; !ok || n != len(c.Rules) {
			return fmt.Sprintf("chain %s has %d rules, want %d", name, n, len(c.Rules)), nil
		}
	}
	if len(got.Sets) != len(want.Sets) {
		return fmt.Sprintf("%d sets, want %d", len(got.Sets), len(want.Sets)), nil
	}
	for _, m := range counted {
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
