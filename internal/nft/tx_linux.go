package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Tx collects changes to one table; Commit sends them as one atomic
// netlink transaction.
type Tx struct {
	c     *Conn
	fam   Family
	table string
	b     *batch
	err   error
	sets  uint32 // set ids handed out (the kernel wants one per new set)
}

// Begin starts a transaction on table name of family f.
func (c *Conn) Begin(name string, f Family) *Tx {
	c.mu.Lock()
	base := c.seq
	c.seq += 1 << 20 // room for a million messages per batch
	c.mu.Unlock()
	return &Tx{c: c, fam: f, table: name, b: newBatch(base)}
}

// Ops is the number of netlink messages queued so far.
func (tx *Tx) Ops() int { return tx.b.messages() }

// Bytes is the size of the batch queued so far.
func (tx *Tx) Bytes() int { return len(tx.b.buf) }

func (tx *Tx) tableMsg(kind uint16, flags uint16) {
	tx.b.msg(kind, flags, tx.fam, tx.table)
	tx.b.buf = tx.b.buf.str(unix.NFTA_TABLE_NAME, tx.table)
	tx.b.finish()
}

// Recreate deletes the table if it exists and adds it back empty.
func (tx *Tx) Recreate() { tx.RecreateWith("") }

// RecreateWith is Recreate giving the new table a comment.
func (tx *Tx) RecreateWith(comment string) {
	tx.EnsureTable()
	tx.tableMsg(unix.NFT_MSG_DELTABLE, 0)
	tx.b.msg(unix.NFT_MSG_NEWTABLE, unix.NLM_F_CREATE, tx.fam, tx.table)
	tx.b.buf = tx.b.buf.str(unix.NFTA_TABLE_NAME, tx.table)
	if comment != "" {
		tx.b.buf = tx.b.buf.attr(nftaTableUserdata, udata(nil).rec(udataTableComment, append([]byte(comment), 0)))
	}
	tx.b.finish()
}

// EnsureTable adds the table unless it exists.
func (tx *Tx) EnsureTable() { tx.tableMsg(unix.NFT_MSG_NEWTABLE, unix.NLM_F_CREATE) }

func hooknum(h Hook) uint32 {
	switch h {
	case Prerouting:
		return unix.NF_INET_PRE_ROUTING
	case Input:
		return unix.NF_INET_LOCAL_IN
	case Forward:
		return unix.NF_INET_FORWARD
	case Output:
		return unix.NF_INET_LOCAL_OUT
	}
	return unix.NF_INET_POST_ROUTING
}

func (tx *Tx) chainMsg(kind uint16, flags uint16, name string) {
	tx.b.msg(kind, flags, tx.fam, name)
	tx.b.buf = tx.b.buf.str(unix.NFTA_CHAIN_TABLE, tx.table).str(unix.NFTA_CHAIN_NAME, name)
}

// AddChain adds an empty chain (rules come with AddRules, after the sets
// and chains they refer to exist).
func (tx *Tx) AddChain(c *Chain) {
	tx.chainMsg(unix.NFT_MSG_NEWCHAIN, unix.NLM_F_CREATE, c.Name)
	if c.Base != nil {
		e, s := tx.b.buf.nest(unix.NFTA_CHAIN_HOOK)
		e = e.u32(unix.NFTA_HOOK_HOOKNUM, hooknum(c.Base.Hook)).u32(unix.NFTA_HOOK_PRIORITY, uint32(c.Base.Priority)).end(s)
		tx.b.buf = e.u32(unix.NFTA_CHAIN_POLICY, nfAccept).str(unix.NFTA_CHAIN_TYPE, c.Base.Type)
	}
	tx.b.finish()
}

// FlushChain removes every rule of a chain.
func (tx *Tx) FlushChain(c *Chain) {
	tx.b.msg(unix.NFT_MSG_DELRULE, 0, tx.fam, c.Name)
	tx.b.buf = tx.b.buf.str(unix.NFTA_RULE_TABLE, tx.table).str(unix.NFTA_RULE_CHAIN, c.Name)
	tx.b.finish()
}

// DelChain deletes an empty, unreferenced chain.
func (tx *Tx) DelChain(name string) {
	tx.chainMsg(unix.NFT_MSG_DELCHAIN, 0, name)
	tx.b.finish()
}

// AddRules appends the chain's rules.
func (tx *Tx) AddRules(c *Chain) {
	for _, r := range c.Rules {
		tx.b.msg(unix.NFT_MSG_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_APPEND, tx.fam, c.Name)
		e := tx.b.buf.str(unix.NFTA_RULE_TABLE, tx.table).str(unix.NFTA_RULE_CHAIN, c.Name)
		e, s := e.nest(unix.NFTA_RULE_EXPRESSIONS)
		for _, x := range r.exprs {
			b, err := expr.Marshal(byte(tx.fam.table()), x)
			if err != nil && tx.err == nil {
				tx.err = fmt.Errorf("rule %q of %s: %w", r.Text, c.Name, err)
			}
			var es int
			e, es = e.nest(unix.NFTA_LIST_ELEM)
			e = append(e, b...).end(es)
		}
		tx.b.buf = e.end(s)
		tx.b.finish()
	}
}

// Netlink constants golang.org/x/sys/unix lacks.
const (
	nfAccept          = 1
	nftSetConcat      = 0x80
	nftaSetDescConcat = 2
	nftaSetFieldLen   = 1
	nftaTableUserdata = 6
)

// DelRule deletes one rule of a chain by its handle.
func (tx *Tx) DelRule(chain string, handle uint64) {
	tx.b.msg(unix.NFT_MSG_DELRULE, 0, tx.fam, chain)
	tx.b.buf = tx.b.buf.str(unix.NFTA_RULE_TABLE, tx.table).str(unix.NFTA_RULE_CHAIN, chain).u64(unix.NFTA_RULE_HANDLE, handle)
	tx.b.finish()
}

// datatypes are nft's numbers for the data types sets use.
var datatypes = map[string]uint32{
	nftables.TypeVerdict.Name: 1, nftables.TypeInteger.Name: 4, nftables.TypeIPAddr.Name: 7,
	nftables.TypeIP6Addr.Name: 8, nftables.TypeInetProto.Name: 12, nftables.TypeInetService.Name: 13,
	nftables.TypeMark.Name: 19, nftables.TypeIFName.Name: 41,
}

// typeOf is the type number (concatenations: 6 bits per field) and the
// length in bytes (fields of a concatenation padded to 4) of fields.
func typeOf(fields []nftables.SetDatatype) (magic, length uint32, err error) {
	for _, f := range fields {
		id, ok := datatypes[f.Name]
		if !ok {
			return 0, 0, fmt.Errorf("unsupported set data type %s", f.Name)
		}
		magic = magic<<6 | id
		if len(fields) > 1 {
			length += (f.Bytes + 3) &^ 3
		} else {
			length += f.Bytes
		}
	}
	return magic, length, nil
}

func (tx *Tx) setFlags(s *Set) uint32 {
	var fl uint32
	if s.Interval {
		fl |= unix.NFT_SET_INTERVAL
	}
	if s.Map || len(s.Data) > 0 {
		fl |= unix.NFT_SET_MAP
	}
	if s.Timeout > 0 {
		fl |= unix.NFT_SET_TIMEOUT
	}
	if s.Dynamic {
		fl |= unix.NFT_SET_EVAL
	}
	if len(s.Fields) > 1 {
		fl |= nftSetConcat
	}
	return fl
}

// AddSet adds a set or map with its elements.
func (tx *Tx) AddSet(s *Set) {
	tx.addEmptySet(s)
	tx.addAllElements(s)
}

func (tx *Tx) addEmptySet(s *Set) {
	keyType, keyLen, err := typeOf(s.Fields)
	if err != nil && tx.err == nil {
		tx.err = fmt.Errorf("set %s: %w", s.Name, err)
	}
	tx.b.msg(unix.NFT_MSG_NEWSET, unix.NLM_F_CREATE, tx.fam, s.Name)
	tx.sets++
	e := tx.b.buf.str(unix.NFTA_SET_TABLE, tx.table).str(unix.NFTA_SET_NAME, s.Name).u32(unix.NFTA_SET_ID, tx.sets).
		u32(unix.NFTA_SET_FLAGS, tx.setFlags(s)).u32(unix.NFTA_SET_KEY_TYPE, keyType).u32(unix.NFTA_SET_KEY_LEN, keyLen)
	switch {
	case s.Map:
		e = e.u32(unix.NFTA_SET_DATA_TYPE, unix.NFT_DATA_VERDICT).u32(unix.NFTA_SET_DATA_LEN, 0)
	case len(s.Data) > 0:
		dt, dl, err := typeOf(s.Data)
		if err != nil && tx.err == nil {
			tx.err = fmt.Errorf("set %s: %w", s.Name, err)
		}
		e = e.u32(unix.NFTA_SET_DATA_TYPE, dt).u32(unix.NFTA_SET_DATA_LEN, dl)
	}
	if s.Timeout > 0 {
		e = e.u64(unix.NFTA_SET_TIMEOUT, uint64(s.Timeout.Milliseconds()))
	}
	if s.Size > 0 || len(s.Fields) > 1 {
		var ds int
		e, ds = e.nest(unix.NFTA_SET_DESC)
		if s.Size > 0 {
			e = e.u32(unix.NFTA_SET_DESC_SIZE, s.Size)
		}
		if len(s.Fields) > 1 {
			var cs int
			e, cs = e.nest(nftaSetDescConcat)
			for _, f := range s.Fields {
				var fs int
				e, fs = e.nest(unix.NFTA_LIST_ELEM)
				e = e.u32(nftaSetFieldLen, f.Bytes).end(fs)
			}
			e = e.end(cs)
		}
		e = e.end(ds)
	}
	if s.Typeof != nil {
		e = e.attr(unix.NFTA_SET_USERDATA, s.Typeof.udata())
	} else if s.Interval {
		// nft reads intervals' byte order from the user data.
		e = e.attr(unix.NFTA_SET_USERDATA, udata(nil).u32(udataKeyByteorder, 2))
	}
	tx.b.buf = e
	tx.b.finish()
}

func (tx *Tx) addAllElements(s *Set) {
	elems := make([]Element, 0, len(s.Elements))
	for _, e := range s.Elements {
		elems = append(elems, e)
	}
	tx.AddElements(s, elems)
}

// DelSet deletes a set (no rule may refer to it any more).
func (tx *Tx) DelSet(s *Set) {
	tx.b.msg(unix.NFT_MSG_DELSET, 0, tx.fam, s.Name)
	tx.b.buf = tx.b.buf.str(unix.NFTA_SET_TABLE, tx.table).str(unix.NFTA_SET_NAME, s.Name)
	tx.b.finish()
}

// AddElements adds or replaces elements of a set or map.
func (tx *Tx) AddElements(s *Set, elems []Element) {
	tx.elements(unix.NFT_MSG_NEWSETELEM, unix.NLM_F_CREATE, s, elems)
}

// DelElements deletes elements from a set or map.
func (tx *Tx) DelElements(s *Set, elems []Element) {
	tx.elements(unix.NFT_MSG_DELSETELEM, 0, s, elems)
}

// elements queues element messages, each list kept under maxAttrBytes:
// the list's length field has 16 bits, and the kernel ignored a batch
// whose list overflowed it, without an error.
func (tx *Tx) elements(kind, flags uint16, s *Set, elems []Element) {
	for len(elems) > 0 {
		tx.b.msg(kind, flags, tx.fam, s.Name)
		e := tx.b.buf.str(unix.NFTA_SET_ELEM_LIST_TABLE, tx.table).str(unix.NFTA_SET_ELEM_LIST_SET, s.Name)
		e, ls := e.nest(unix.NFTA_SET_ELEM_LIST_ELEMENTS)
		for len(elems) > 0 && len(e)-ls < maxAttrBytes {
			e = appendElement(e, s, elems[0])
			elems = elems[1:]
		}
		tx.b.buf = e.end(ls)
		tx.b.finish()
	}
}

func appendElement(e enc, s *Set, el Element) enc {
	var es int
	e, es = e.nest(unix.NFTA_LIST_ELEM)
	e = e.value(unix.NFTA_SET_ELEM_KEY, el.Key.Bytes)
	switch {
	case el.Verdict != nil:
		var ds, vs int
		e, ds = e.nest(unix.NFTA_SET_ELEM_DATA)
		e, vs = e.nest(unix.NFTA_DATA_VERDICT)
		e = e.u32(unix.NFTA_VERDICT_CODE, uint32(int32(el.Verdict.Kind)))
		if el.Verdict.Chain != "" {
			e = e.str(unix.NFTA_VERDICT_CHAIN, el.Verdict.Chain)
		}
		e = e.end(vs).end(ds)
	case el.Value != nil:
		e = e.value(unix.NFTA_SET_ELEM_DATA, el.Value.Bytes)
	}
	e = e.end(es)
	if s.Interval && el.Key.End != nil {
		e, es = e.nest(unix.NFTA_LIST_ELEM)
		e = e.value(unix.NFTA_SET_ELEM_KEY, el.Key.End).u32(unix.NFTA_SET_ELEM_FLAGS, unix.NFT_SET_ELEM_INTERVAL_END).end(es)
	}
	return e
}

// Full queues the whole table: empty sets and maps, chains, rules (which
// name sets and chains), and only then the elements (which may name
// chains). Binding a map to a rule makes the kernel walk the map's
// elements, so filling maps after the rules keeps a full sync linear: the
// other order walked a 40k-element map once per Service rule. Elements
// given in more are added after the table's own (callers with many
// elements pass them as lists instead of building each set's index).
func (tx *Tx) Full(t *Table, more ...map[string][]Element) {
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
		for _, m := range more {
			tx.AddElements(t.Sets[name], m[name])
		}
	}
}

// Commit sends the transaction.
func (tx *Tx) Commit() error {
	if tx.err != nil {
		return tx.err
	}
	if tx.b.messages() == 0 {
		return nil
	}
	if err := tx.send(); err != nil {
		return fmt.Errorf("nftables transaction on %s %s (%d messages): %w", tx.fam, tx.table, tx.b.messages(), err)
	}
	return nil
}
