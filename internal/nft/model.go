package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Hook is the netfilter hook of a base chain.
type Hook string

// The hooks kserver uses.
const (
	Prerouting  Hook = "prerouting"
	Input       Hook = "input"
	Forward     Hook = "forward"
	Output      Hook = "output"
	Postrouting Hook = "postrouting"
)

// Base makes a chain a base chain attached to a hook.
type Base struct {
	Type     string // "nat" or "filter"
	Hook     Hook
	Priority int32
}

// Chain is a chain and its rules, in order.
type Chain struct {
	Name  string
	Base  *Base
	Rules []Rule
}

// Equal reports whether two chains would program the same thing.
func (c *Chain) Equal(o *Chain) bool {
	if c.Name != o.Name || (c.Base == nil) != (o.Base == nil) || (c.Base != nil && *c.Base != *o.Base) {
		return false
	}
	return slices.EqualFunc(c.Rules, o.Rules, func(a, b Rule) bool { return a.Text == b.Text })
}

// Verdict is what a map element or rule decides.
type Verdict struct {
	Kind  expr.VerdictKind
	Chain string
}

// Goto and Jump are verdicts that continue in another chain.
func Goto(chain string) Verdict { return Verdict{Kind: expr.VerdictGoto, Chain: chain} }

// Jump continues in chain and returns here after it.
func Jump(chain string) Verdict { return Verdict{Kind: expr.VerdictJump, Chain: chain} }

// The verdicts without a chain.
var (
	Accept = Verdict{Kind: expr.VerdictAccept}
	Drop   = Verdict{Kind: expr.VerdictDrop}
	Return = Verdict{Kind: expr.VerdictReturn}
)

func (v Verdict) String() string {
	switch v.Kind {
	case expr.VerdictGoto:
		return "goto " + v.Chain
	case expr.VerdictJump:
		return "jump " + v.Chain
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictReturn:
		return "return"
	}
	return fmt.Sprintf("verdict(%d)", v.Kind)
}

func (v Verdict) expr() *expr.Verdict { return &expr.Verdict{Kind: v.Kind, Chain: v.Chain} }

// Key is one element key of a set or map: its bytes as the kernel stores
// them and its text as nft prints it. KeyEnd is set for intervals.
type Key struct {
	Text   string
	Bytes  []byte
	End    []byte // exclusive end of an interval element (interval sets)
	Prefix bool
}

// Element is a set element, or a map element when Verdict (verdict map)
// or Value (data map) is set.
type Element struct {
	Key     Key
	Verdict *Verdict
	Value   *Key // data of a data map, with its text
}

// Same reports whether two elements with one key map to the same thing.
func (e Element) Same(o Element) bool {
	switch {
	case e.Verdict != nil || o.Verdict != nil:
		return e.Verdict != nil && o.Verdict != nil && *e.Verdict == *o.Verdict
	case e.Value != nil || o.Value != nil:
		return e.Value != nil && o.Value != nil && e.Value.Text == o.Value.Text
	}
	return true
}

// Set is a named set or verdict map.
type Set struct {
	Name     string
	Fields   []nftables.SetDatatype // more than one: a concatenation
	Map      bool                   // a verdict map
	Data     []nftables.SetDatatype // a data map: the fields of its values
	Interval bool                   // elements are prefixes or ranges
	Dynamic  bool                   // updated from the packet path
	Timeout  time.Duration          // element timeout (dynamic sets)
	Elements map[string]Element     // by Key.Text
}

// AddElement adds (or replaces) an element.
func (s *Set) AddElement(e Element) {
	if s.Elements == nil {
		s.Elements = make(map[string]Element)
	}
	s.Elements[e.Key.Text] = e
}

func (s *Set) typeText() string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	t := strings.Join(names, " . ")
	if s.Map {
		t += " : verdict"
	}
	if len(s.Data) > 0 {
		data := make([]string, len(s.Data))
		for i, f := range s.Data {
			data[i] = f.Name
		}
		t += " : " + strings.Join(data, " . ")
	}
	return t
}

// Table is the desired state of one table of our own.
type Table struct {
	Name   string
	Family Family
	Chains map[string]*Chain
	Sets   map[string]*Set
}

// NewTable returns an empty table.
func NewTable(name string, f Family) *Table {
	return &Table{Name: name, Family: f, Chains: map[string]*Chain{}, Sets: map[string]*Set{}}
}

// AddChain adds a chain (replacing one of the same name) and returns it.
func (t *Table) AddChain(c *Chain) *Chain {
	t.Chains[c.Name] = c
	return c
}

// AddSet adds a set (replacing one of the same name) and returns it.
func (t *Table) AddSet(s *Set) *Set {
	t.Sets[s.Name] = s
	return s
}

// String renders the table the way `nft list table` lays it out: sets and
// maps first, then base chains by hook and priority, then the other chains,
// each group sorted by name; elements sorted by key text.
func (t *Table) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s {\n", t.Family, t.Name)
	for _, name := range sortedKeys(t.Sets) {
		writeSet(&b, t.Sets[name])
	}
	for _, c := range t.orderedChains() {
		writeChain(&b, c)
	}
	b.WriteString("}\n")
	return b.String()
}

func (t *Table) orderedChains() []*Chain {
	chains := make([]*Chain, 0, len(t.Chains))
	for _, c := range t.Chains {
		chains = append(chains, c)
	}
	hookOrder := map[Hook]int{Prerouting: 0, Input: 1, Forward: 2, Output: 3, Postrouting: 4}
	slices.SortFunc(chains, func(a, b *Chain) int {
		if (a.Base == nil) != (b.Base == nil) {
			if a.Base != nil {
				return -1
			}
			return 1
		}
		if a.Base != nil {
			if d := hookOrder[a.Base.Hook] - hookOrder[b.Base.Hook]; d != 0 {
				return d
			}
			if d := int(a.Base.Priority) - int(b.Base.Priority); d != 0 {
				return d
			}
		}
		return strings.Compare(a.Name, b.Name)
	})
	return chains
}

func writeSet(b *strings.Builder, s *Set) {
	kind := "set"
	if s.Map || len(s.Data) > 0 {
		kind = "map"
	}
	fmt.Fprintf(b, "\t%s %s {\n\t\ttype %s\n", kind, s.Name, s.typeText())
	var flags []string
	if s.Interval {
		flags = append(flags, "interval")
	}
	if s.Dynamic {
		flags = append(flags, "dynamic")
	}
	if s.Timeout > 0 {
		flags = append(flags, "timeout")
	}
	if len(flags) > 0 {
		fmt.Fprintf(b, "\t\tflags %s\n", strings.Join(flags, ","))
	}
	if s.Timeout > 0 {
		fmt.Fprintf(b, "\t\ttimeout %s\n", nftDuration(s.Timeout))
	}
	if len(s.Elements) > 0 {
		b.WriteString("\t\telements = {\n")
		for _, k := range sortedKeys(s.Elements) {
			e := s.Elements[k]
			if e.Verdict != nil {
				fmt.Fprintf(b, "\t\t\t%s : %s,\n", k, e.Verdict)
			} else if e.Value != nil {
				fmt.Fprintf(b, "\t\t\t%s : %s,\n", k, e.Value.Text)
			} else {
				fmt.Fprintf(b, "\t\t\t%s,\n", k)
			}
		}
		b.WriteString("\t\t}\n")
	}
	b.WriteString("\t}\n")
}

func writeChain(b *strings.Builder, c *Chain) {
	fmt.Fprintf(b, "\tchain %s {\n", c.Name)
	if c.Base != nil {
		fmt.Fprintf(b, "\t\ttype %s hook %s priority %s; policy accept;\n", c.Base.Type, c.Base.Hook, priorityText(c.Base.Priority))
	}
	for _, r := range c.Rules {
		fmt.Fprintf(b, "\t\t%s\n", r.Text)
	}
	b.WriteString("\t}\n")
}

// Named priorities, as nft prints them.
const (
	PriorityDstNAT int32 = -100
	PriorityFilter int32 = 0
	PrioritySrcNAT int32 = 100
)

func priorityText(p int32) string {
	named := []struct {
		name string
		v    int32
	}{{"dstnat", PriorityDstNAT}, {"filter", PriorityFilter}, {"srcnat", PrioritySrcNAT}}
	for _, n := range named {
		switch d := p - n.v; {
		case d == 0:
			return n.name
		case d > 0 && d < 50:
			return fmt.Sprintf("%s + %d", n.name, d)
		case d < 0 && d > -50:
			return fmt.Sprintf("%s - %d", n.name, -d)
		}
	}
	return fmt.Sprint(p)
}

func nftDuration(d time.Duration) string {
	s := int64(d / time.Second)
	if s%3600 == 0 {
		return fmt.Sprintf("%dh", s/3600)
	}
	if s%60 == 0 {
		return fmt.Sprintf("%dm", s/60)
	}
	return fmt.Sprintf("%ds", s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AddrKey is the key of an address in a set of addresses.
func (f Family) AddrKey(a netip.Addr) Key {
	return Key{Text: a.String(), Bytes: f.addrBytes(a)}
}

// PrefixKey is the key of a prefix in an interval set of addresses.
func (f Family) PrefixKey(p netip.Prefix) Key {
	p = p.Masked()
	start := f.addrBytes(p.Addr())
	end := slices.Clone(start)
	// end = last address + 1 (exclusive), carrying over; all ones wraps to nil.
	host := f.AddrLen()*8 - p.Bits()
	for i := len(end) - 1; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		end[i] |= byte(1<<n - 1)
		host -= n
	}
	end = increment(end)
	text := p.String()
	if p.IsSingleIP() {
		text = p.Addr().String()
	}
	return Key{Text: text, Bytes: start, End: end, Prefix: true}
}

func increment(b []byte) []byte {
	out := slices.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			return out
		}
	}
	return nil // wrapped: the interval runs to the end of the address space
}

// ServiceKey is the key "addr . proto . port" of a service map.
func (f Family) ServiceKey(a netip.Addr, p Protocol, port uint16) Key {
	b := append(pad4(f.addrBytes(a)), pad4([]byte{byte(p)})...)
	b = append(b, pad4(be16(port))...)
	return Key{Text: fmt.Sprintf("%s . %s . %d", a, p, port), Bytes: b}
}

// ProtoPortKey is the key "proto . port" of a node-port map.
func ProtoPortKey(p Protocol, port uint16) Key {
	b := append(pad4([]byte{byte(p)}), pad4(be16(port))...)
	return Key{Text: fmt.Sprintf("%s . %d", p, port), Bytes: b}
}

// ServiceFields are the fields of a service map for f.
func (f Family) ServiceFields() []nftables.SetDatatype {
	return []nftables.SetDatatype{f.addrType(), nftables.TypeInetProto, nftables.TypeInetService}
}

// ProtoPortFields are the fields of a node-port map.
func ProtoPortFields() []nftables.SetDatatype {
	return []nftables.SetDatatype{nftables.TypeInetProto, nftables.TypeInetService}
}

// AddrFields are the fields of a set of addresses of f.
func (f Family) AddrFields() []nftables.SetDatatype {
	return []nftables.SetDatatype{f.addrType()}
}

// AddrPairKey is the key "a . b" of a set of address pairs.
func (f Family) AddrPairKey(a, b netip.Addr) Key {
	return Key{Text: a.String() + " . " + b.String(), Bytes: append(f.addrBytes(a), f.addrBytes(b)...)}
}

// AddrPairFields are the fields of a set of address pairs.
func (f Family) AddrPairFields() []nftables.SetDatatype {
	return []nftables.SetDatatype{f.addrType(), f.addrType()}
}

// SlotKey is the key "slot . id" of an endpoint map: slot is what
// `numgen random mod N` yields (host byte order), id names the chain.
func SlotKey(slot uint32, id uint64) Key {
	b := append(native32(slot), idBytes(id)...)
	return Key{Text: fmt.Sprintf("%d . %#016x", slot, id), Bytes: b}
}

func idBytes(id uint64) []byte {
	return []byte{byte(id >> 56), byte(id >> 48), byte(id >> 40), byte(id >> 32), byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
}

// SlotFields are the key fields of an endpoint map (slot . id-high .
// id-low), typed "mark": the nft tool cannot print a concatenation of
// plain integers (it aborts on `nft list`), it can print marks.
func SlotFields() []nftables.SetDatatype {
	return []nftables.SetDatatype{nftables.TypeMark, nftables.TypeMark, nftables.TypeMark}
}

// EndpointValue is the data "addr . port" of an endpoint map.
func (f Family) EndpointValue(a netip.Addr, port uint16) *Key {
	text := fmt.Sprintf("%s . %d", a, port)
	return &Key{Text: text, Bytes: append(f.addrBytes(a), pad4(be16(port))...)}
}

// EndpointFields are the value fields of an endpoint map.
func (f Family) EndpointFields() []nftables.SetDatatype {
	return []nftables.SetDatatype{f.addrType(), nftables.TypeInetService}
}
