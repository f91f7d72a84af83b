package nft

import (
	"bytes"
	"encoding/binary"
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
// them and, optionally, its text as nft prints it (when empty, the text
// is rendered from the set's field types). End is set for intervals.
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
		return e.Value != nil && o.Value != nil && bytes.Equal(e.Value.Bytes, o.Value.Bytes)
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
	Size     uint32                 // maximum number of elements (0: no limit)
	Typeof   *Typeof                // the expressions fields come from (for nft's printing)
	Elements map[string]Element     // by string(Key.Bytes)
}

// TypeofMap returns a data map whose key and data fields are declared by
// the expressions that produce them.
func TypeofMap(name string, t *Typeof) *Set {
	return &Set{Name: name, Fields: fieldsOf(t.Key), Data: fieldsOf(t.Data), Typeof: t}
}

// AddElement adds (or replaces) an element.
func (s *Set) AddElement(e Element) {
	if s.Elements == nil {
		s.Elements = make(map[string]Element)
	}
	s.Elements[string(e.Key.Bytes)] = e
}

// KeyText is the text nft prints for a key of this set.
func (s *Set) KeyText(k Key) string {
	if k.Text != "" {
		return k.Text
	}
	return render(s.Fields, k.Bytes)
}

// ValueText is the text nft prints for data of this map.
func (s *Set) ValueText(v *Key) string {
	if v.Text != "" {
		return v.Text
	}
	return render(s.Data, v.Bytes)
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
	Name    string
	Family  Family
	Comment string
	Chains  map[string]*Chain
	Sets    map[string]*Set
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
	if t.Comment != "" {
		fmt.Fprintf(&b, "\tcomment %q\n", t.Comment)
	}
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
	if s.Typeof != nil {
		fmt.Fprintf(b, "\t%s %s {\n\t\ttypeof %s\n", kind, s.Name, s.Typeof.text())
	} else {
		fmt.Fprintf(b, "\t%s %s {\n\t\ttype %s\n", kind, s.Name, s.typeText())
	}
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
	if s.Size > 0 {
		fmt.Fprintf(b, "\t\tsize %d\n", s.Size)
	}
	if len(s.Elements) > 0 {
		lines := make([]string, 0, len(s.Elements))
		for _, e := range s.Elements {
			k := s.KeyText(e.Key)
			switch {
			case e.Verdict != nil:
				k += " : " + e.Verdict.String()
			case e.Value != nil:
				k += " : " + s.ValueText(e.Value)
			}
			lines = append(lines, k)
		}
		slices.Sort(lines)
		b.WriteString("\t\telements = {\n")
		for _, l := range lines {
			fmt.Fprintf(b, "\t\t\t%s,\n", l)
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
	return Key{Bytes: f.appendServiceKey(make([]byte, 0, f.AddrLen()+12), a, p, port)}
}

func (f Family) appendServiceKey(b []byte, a netip.Addr, p Protocol, port uint16) []byte {
	if f == IPv6 {
		a16 := a.As16()
		b = append(b, a16[:]...)
	} else {
		a4 := a.Unmap().As4()
		b = append(b, a4[:]...)
	}
	return appendProtoPort(b, p, port)
}

func appendProtoPort(b []byte, p Protocol, port uint16) []byte {
	return append(b, byte(p), 0, 0, 0, byte(port>>8), byte(port), 0, 0)
}

// ProtoPortKey is the key "proto . port" of a node-port map.
func ProtoPortKey(p Protocol, port uint16) Key {
	return Key{Bytes: appendProtoPort(make([]byte, 0, 12), p, port)}
}

// EndpointKey is the key "addr . proto . port . slot" of an endpoint map
// (slot in host byte order, as numgen yields it).
func (f Family) EndpointKey(a netip.Addr, p Protocol, port uint16, slot uint32) Key {
	b := f.appendServiceKey(make([]byte, 0, f.AddrLen()+12), a, p, port)
	return Key{Bytes: binary.NativeEndian.AppendUint32(b, slot)}
}

// NodePortEndpointKey is the key "proto . port . slot" of a node-port
// endpoint map.
func NodePortEndpointKey(p Protocol, port uint16, slot uint32) Key {
	return Key{Bytes: binary.NativeEndian.AppendUint32(appendProtoPort(make([]byte, 0, 12), p, port), slot)}
}

// EndpointTypeof declares an endpoint map: "daddr . l4proto . dport .
// numgen" (without the address for node ports) to "addr . port".
func (f Family) EndpointTypeof(nodePort bool) *Typeof {
	key := []TypeofExpr{f.DAddrExpr(), L4ProtoExpr(), DPortExpr(), NumgenExpr(1)}
	if nodePort {
		key = key[1:]
	}
	return &Typeof{Key: key, Data: []TypeofExpr{f.DAddrExpr(), DPortExpr()}}
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
	return Key{Bytes: append(f.addrBytes(a), f.addrBytes(b)...)}
}

// AddrPairFields are the fields of a set of address pairs.
func (f Family) AddrPairFields() []nftables.SetDatatype {
	return []nftables.SetDatatype{f.addrType(), f.addrType()}
}

// EndpointValue is the data "addr . port" of an endpoint map.
func (f Family) EndpointValue(a netip.Addr, port uint16) *Key {
	return &Key{Bytes: f.AppendEndpointValue(nil, a, port)}
}

// AppendEndpointValue appends the data "addr . port" of an endpoint map.
func (f Family) AppendEndpointValue(b []byte, a netip.Addr, port uint16) []byte {
	if f == IPv6 {
		a16 := a.As16()
		b = append(b, a16[:]...)
	} else {
		a4 := a.Unmap().As4()
		b = append(b, a4[:]...)
	}
	return append(b, byte(port>>8), byte(port), 0, 0)
}

// EndpointFields are the value fields of an endpoint map.
func (f Family) EndpointFields() []nftables.SetDatatype {
	return []nftables.SetDatatype{f.addrType(), nftables.TypeInetService}
}
