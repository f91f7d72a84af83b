package nft

import (
	"fmt"

	"github.com/google/nftables"
)

// Tx collects changes to one table; Commit sends them as one atomic
// netlink transaction.
type Tx struct {
	c       *nftables.Conn // builds this transaction's messages
	nsFd    int
	fam     Family
	table   *nftables.Table
	ops     int
	err     error
	sendErr error
}

// Begin starts a transaction on table name of family f.
func (c *Conn) Begin(name string, f Family) *Tx {
	tx := &Tx{nsFd: c.nsFd, fam: f, table: &nftables.Table{Name: name, Family: f.table()}}
	// google/nftables builds the messages; sending goes through tx.send
	// (see batch_linux.go). A transaction has its own builder so that a
	// failed one leaves nothing queued behind for the next.
	tx.c, tx.err = nftables.New(nftables.WithTestDial(tx.transport))
	return tx
}

// Ops is the number of changes queued so far.
func (tx *Tx) Ops() int { return tx.ops }

// Recreate deletes the table if it exists and adds it back empty.
func (tx *Tx) Recreate() {
	tx.c.AddTable(tx.table)
	tx.c.DelTable(tx.table)
	tx.c.AddTable(tx.table)
	tx.ops += 3
}

// EnsureTable adds the table unless it exists.
func (tx *Tx) EnsureTable() {
	tx.c.AddTable(tx.table)
	tx.ops++
}

func (tx *Tx) chain(c *Chain) *nftables.Chain {
	ch := &nftables.Chain{Name: c.Name, Table: tx.table}
	if c.Base != nil {
		ch.Type = nftables.ChainType(c.Base.Type)
		ch.Hooknum = hooknum(c.Base.Hook)
		p := nftables.ChainPriority(c.Base.Priority)
		ch.Priority = &p
		accept := nftables.ChainPolicyAccept
		ch.Policy = &accept
	}
	return ch
}

func hooknum(h Hook) *nftables.ChainHook {
	switch h {
	case Prerouting:
		return nftables.ChainHookPrerouting
	case Input:
		return nftables.ChainHookInput
	case Forward:
		return nftables.ChainHookForward
	case Output:
		return nftables.ChainHookOutput
	}
	return nftables.ChainHookPostrouting
}

// AddChain adds an empty chain (rules come with AddRules, after the sets
// and chains they refer to exist).
func (tx *Tx) AddChain(c *Chain) {
	tx.c.AddChain(tx.chain(c))
	tx.ops++
}

// FlushChain removes every rule of a chain.
func (tx *Tx) FlushChain(c *Chain) {
	tx.c.FlushChain(tx.chain(&Chain{Name: c.Name}))
	tx.ops++
}

// DelChain deletes an empty, unreferenced chain.
func (tx *Tx) DelChain(name string) {
	tx.c.DelChain(&nftables.Chain{Name: name, Table: tx.table})
	tx.ops++
}

// AddRules appends the chain's rules.
func (tx *Tx) AddRules(c *Chain) {
	ch := &nftables.Chain{Name: c.Name, Table: tx.table}
	for _, r := range c.Rules {
		tx.c.AddRule(&nftables.Rule{Table: tx.table, Chain: ch, Exprs: r.exprs})
		tx.ops++
	}
}

func (tx *Tx) set(s *Set) *nftables.Set {
	ns := &nftables.Set{Table: tx.table, Name: s.Name, IsMap: s.Map, Interval: s.Interval,
		Dynamic: s.Dynamic, HasTimeout: s.Timeout > 0, Timeout: s.Timeout}
	if len(s.Fields) > 1 {
		ns.KeyType = nftables.MustConcatSetType(s.Fields...)
		ns.Concatenation = true
	} else {
		ns.KeyType = s.Fields[0]
	}
	if s.Map {
		ns.DataType = nftables.TypeVerdict
	}
	if len(s.Data) > 0 {
		ns.IsMap = true
		ns.DataType = nftables.MustConcatSetType(s.Data...)
		if len(s.Data) == 1 {
			ns.DataType = s.Data[0]
		}
	}
	return ns
}

// AddSet adds a set or map with its elements.
func (tx *Tx) AddSet(s *Set) {
	tx.addEmptySet(s)
	tx.addAllElements(s)
}

func (tx *Tx) addEmptySet(s *Set) {
	if err := tx.c.AddSet(tx.set(s), nil); err != nil && tx.err == nil {
		tx.err = fmt.Errorf("add set %s: %w", s.Name, err)
	}
	tx.ops++
}

func (tx *Tx) addAllElements(s *Set) {
	elems := make([]Element, 0, len(s.Elements))
	for _, k := range sortedKeys(s.Elements) {
		elems = append(elems, s.Elements[k])
	}
	tx.AddElements(s, elems)
}

// DelSet deletes a set (no rule may refer to it any more).
func (tx *Tx) DelSet(s *Set) {
	tx.c.DelSet(tx.set(s))
	tx.ops++
}

// AddElements adds or replaces elements of a set or map.
func (tx *Tx) AddElements(s *Set, elems []Element) {
	if len(elems) == 0 {
		return
	}
	set := tx.set(s)
	for _, chunk := range chunks(tx.elements(s, elems)) {
		if err := tx.c.SetAddElements(set, chunk); err != nil && tx.err == nil {
			tx.err = fmt.Errorf("add elements to %s: %w", s.Name, err)
		}
		tx.ops++
	}
}

// elementsPerMessage keeps an element list's nested attribute, whose length
// is 16 bits, well under 64 KiB (the kernel would misread a longer one).
const elementsPerMessage = 256

func chunks(elems []nftables.SetElement) [][]nftables.SetElement {
	var out [][]nftables.SetElement
	for len(elems) > elementsPerMessage {
		n := elementsPerMessage
		if !elems[n-1].IntervalEnd && n < len(elems) && elems[n].IntervalEnd {
			n++ // keep an interval's start and end together
		}
		out = append(out, elems[:n])
		elems = elems[n:]
	}
	return append(out, elems)
}

// DelElements deletes elements from a set or map.
func (tx *Tx) DelElements(s *Set, elems []Element) {
	if len(elems) == 0 {
		return
	}
	set := tx.set(s)
	for _, chunk := range chunks(tx.elements(s, elems)) {
		if err := tx.c.SetDeleteElements(set, chunk); err != nil && tx.err == nil {
			tx.err = fmt.Errorf("delete elements from %s: %w", s.Name, err)
		}
		tx.ops++
	}
}

func (tx *Tx) elements(s *Set, elems []Element) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(elems))
	for _, e := range elems {
		el := nftables.SetElement{Key: e.Key.Bytes}
		if e.Verdict != nil {
			el.VerdictData = e.Verdict.expr()
		}
		if e.Value != nil {
			el.Val = e.Value.Bytes
		}
		out = append(out, el)
		if s.Interval && e.Key.End != nil {
			out = append(out, nftables.SetElement{Key: e.Key.End, IntervalEnd: true})
		}
	}
	return out
}

// Full queues the whole table: empty sets and maps, chains, rules (which
// name sets and chains), and only then the elements (which may name
// chains). Binding a map to a rule makes the kernel walk the map's
// elements, so filling maps after the rules keeps a full sync linear: the
// other order walked a 40k-element map once per Service rule.
func (tx *Tx) Full(t *Table) {
	chains := t.orderedChains()
	sets := sortedKeys(t.Sets)
	for _, name := range sets {
		tx.addEmptySet(t.Sets[name])
	}
	for _, c := range chains {
		tx.AddChain(c)
	}
	for _, c := range chains {
		tx.AddRules(c)
	}
	for _, name := range sets {
		tx.addAllElements(t.Sets[name])
	}
}

// Commit sends the transaction.
func (tx *Tx) Commit() error {
	if tx.err != nil {
		return tx.err
	}
	err := tx.c.Flush()
	if err == nil {
		err = tx.sendErr
	}
	if err != nil {
		return fmt.Errorf("nftables transaction on %s %s (%d changes): %w", tx.fam, tx.table.Name, tx.ops, err)
	}
	return nil
}
