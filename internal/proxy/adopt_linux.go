package proxy

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"kserver.dev/kserver/internal/nft"
)

// adopt takes over the table a previous kserver left (a restart) instead
// of re-creating it, when its layout is this version's: the comment that
// names the layout, the skeleton's chains with their rule counts, and sets
// large enough. When the table's fingerprint is the desired state's,
// nothing more is read or written. Otherwise what differs is sent as one
// transaction: elements one by one (read back from the kernel), endpoint
// maps and pick rules for counts that came or went, the chains of
// Services with session affinity (rewritten; their affinity sets keep what
// they learnt). No packet meets a re-created table. It reports false when
// the table must be re-created.
func (p *Proxier) adopt(desired map[string]*Service) (bool, error) {
	start := time.Now()
	comment, ok, err := p.conn.TableComment(p.cfg.Table, p.cfg.Family)
	if err != nil || !ok || comment != layoutComment(p.cfg) {
		return false, err
	}
	w := p.buildAll(desired)
	k, err := p.readKernel()
	if err != nil {
		return false, err
	}
	if why := k.fits(p.cfg, w); why != "" {
		p.log.Info("re-creating the table left by an earlier run", "reason", why)
		return false, nil
	}
	tx := p.conn.Begin(p.cfg.Table, p.cfg.Family)
	same, err := p.sameFingerprint(w)
	if err != nil {
		return false, err
	}
	if !same {
		if err := p.queueAdoption(tx, k, w); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	p.install(w)
	p.last = SyncStats{Full: true, Adopted: true, Changed: len(desired), Ops: tx.Ops(), Bytes: tx.Bytes(), Duration: time.Since(start)}
	p.log.Debug("adopted the table", "services", len(desired), "ops", tx.Ops(), "took", p.last.Duration)
	return true, nil
}

// sameFingerprint reports whether the kernel's table holds w's content,
// by the fingerprint written with it.
func (p *Proxier) sameFingerprint(w *whole) (bool, error) {
	want := fingerprintElement(w.fp)
	var got [][]byte
	err := p.conn.Elements(p.cfg.Table, p.cfg.Family, setFingerprint, func(e nft.DumpedElement) {
		got = append(got, bytes.Clone(e.Key))
	})
	if err != nil {
		return false, err
	}
	return len(got) == 1 && bytes.Equal(got[0], want.Key.Bytes), nil
}

// kernelTable is the shape of our table as the kernel has it.
type kernelTable struct {
	chains map[string][]nft.RuleHandle
	sets   map[string]nft.SetInfo
}

func (p *Proxier) readKernel() (*kernelTable, error) {
	chains, err := p.conn.Chains(p.cfg.Table, p.cfg.Family)
	if err != nil {
		return nil, err
	}
	sets, err := p.conn.Sets(p.cfg.Table, p.cfg.Family)
	if err != nil {
		return nil, err
	}
	return &kernelTable{chains: chains, sets: sets}, nil
}

// isAffinityChain tells the chains of Services with session affinity
// ("service-<namespace>/<name>/<protocol>/<port>") from the skeleton's.
func isAffinityChain(name string) bool {
	return (strings.HasPrefix(name, prefixService) || strings.HasPrefix(name, prefixLocal) ||
		strings.HasPrefix(name, prefixExternal)) && strings.Count(name, "/") == 3
}

func isAffinitySet(name string) bool {
	return strings.HasPrefix(name, prefixAffinity) && name != mapAffinityIPs && name != mapAffinityPorts
}

// fits says why w cannot be reached from k by a transaction of changes
// ("" when it can), and takes over the kernel's sizes of the sets kept.
func (k *kernelTable) fits(cfg Config, w *whole) string {
	skel := skeleton(cfg, nil)
	for name, rules := range k.chains {
		want, fixed := skel.Chains[name]
		switch {
		case fixed && isPickChain(name):
			head := 0
			for _, r := range rules {
				if r.Numgen == 0 {
					head++
				}
			}
			if head != len(pickHead(cfg, name)) {
				return "chain " + name + " was changed"
			}
		case fixed && len(rules) != len(want.Rules):
			return fmt.Sprintf("chain %s has %d rules, want %d", name, len(rules), len(want.Rules))
		case !fixed && !isAffinityChain(name):
			return "unknown chain " + name
		}
	}
	for name, set := range w.table.Sets {
		if _, fixed := skel.Sets[name]; fixed {
			if _, ok := k.sets[name]; !ok {
				return "missing set " + name
			}
		}
		got, ok := k.sets[name]
		if !ok || set.Size == 0 {
			continue
		}
		if got.Size < uint32(w.counts[name]) {
			return fmt.Sprintf("set %s has room for %d elements, want %d", name, got.Size, w.counts[name])
		}
		set.Size = got.Size
	}
	for name := range skel.Chains {
		if _, ok := k.chains[name]; !ok {
			return "missing chain " + name
		}
	}
	for name := range k.sets {
		if _, ok := skel.Sets[name]; !ok && !isAffinitySet(name) {
			if _, _, ep := splitEndpointMap(name); !ep {
				return "unknown set " + name
			}
		}
	}
	return ""
}

func isPickChain(name string) bool {
	for _, pc := range pickChains {
		if pc.chain == name {
			return true
		}
	}
	return false
}

// queueAdoption queues what turns k into w.
func (p *Proxier) queueAdoption(tx *nft.Tx, k *kernelTable, w *whole) error {
	// New sets (affinity, endpoint maps with their pick rules) and chains.
	for name, s := range w.table.Sets {
		if _, ok := k.sets[name]; ok {
			continue
		}
		if prefix, n, ok := splitEndpointMap(name); ok {
			tx.AddSet(&nft.Set{Name: s.Name, Fields: s.Fields, Data: s.Data, Typeof: s.Typeof, Size: s.Size})
			for _, pc := range pickChains {
				if pc.m == prefix {
					tx.AddRules(&nft.Chain{Name: pc.chain, Rules: []nft.Rule{pickRule(p.cfg, pc.m, n)}})
				}
			}
		} else if isAffinitySet(name) {
			tx.AddSet(s)
		}
	}
	var affinity []*nft.Chain
	for name, c := range w.table.Chains {
		if !isAffinityChain(name) {
			continue
		}
		affinity = append(affinity, c)
		if _, ok := k.chains[name]; ok {
			tx.FlushChain(c)
		} else {
			tx.AddChain(c)
		}
	}
	// Elements.
	names := slices.Clone(elementSets)
	for pk := range w.picks {
		names = append(names, endpointMap(pk.m, pk.n))
	}
	elems := w.elements()
	for _, name := range names {
		if err := p.diffElements(tx, w.table.Sets[name], elems[name], k.sets); err != nil {
			return err
		}
	}
	for _, c := range affinity {
		tx.AddRules(c)
	}
	// What went away.
	for name := range k.chains {
		if _, ok := w.table.Chains[name]; !ok {
			tx.FlushChain(&nft.Chain{Name: name})
			tx.DelChain(name)
		}
	}
	for name := range k.sets {
		if _, ok := w.table.Sets[name]; ok {
			continue
		}
		if prefix, n, ok := splitEndpointMap(name); ok {
			for _, pc := range pickChains {
				for _, r := range k.chains[pc.chain] {
					if pc.m == prefix && r.Numgen == uint32(n) {
						tx.DelRule(pc.chain, r.Handle)
					}
				}
			}
		}
		tx.DelSet(&nft.Set{Name: name})
	}
	return nil
}

// diffElements queues what turns the kernel's elements of set into want.
func (p *Proxier) diffElements(tx *nft.Tx, set *nft.Set, want []nft.Element, inKernel map[string]nft.SetInfo) error {
	if _, ok := inKernel[set.Name]; !ok {
		tx.AddElements(set, want) // a new set
		return nil
	}
	index := make(map[string]int, len(want))
	for i, e := range want {
		index[string(e.Key.Bytes)] = i
	}
	seen := make([]bool, len(want))
	var del, add []nft.Element
	err := p.conn.Elements(p.cfg.Table, p.cfg.Family, set.Name, func(e nft.DumpedElement) {
		i, ok := index[string(e.Key)]
		if ok && sameData(want[i], e) {
			seen[i] = true
			return
		}
		del = append(del, nft.Element{Key: nft.Key{Bytes: bytes.Clone(e.Key)}})
	})
	if err != nil {
		return err
	}
	for i, e := range want {
		if !seen[i] {
			add = append(add, e)
		}
	}
	tx.DelElements(set, del)
	tx.AddElements(set, add)
	return nil
}

func sameData(e nft.Element, d nft.DumpedElement) bool {
	switch {
	case e.Verdict != nil:
		return d.Verdict != nil && *d.Verdict == *e.Verdict
	case e.Value != nil:
		return bytes.Equal(e.Value.Bytes, d.Value)
	}
	return d.Verdict == nil && d.Value == nil
}
