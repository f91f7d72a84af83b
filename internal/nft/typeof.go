package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
)

// Typeof declares a set's key and data fields by the expressions that
// produce them, as nft's `typeof` does. nft keeps that declaration in the
// set's user data and uses it to print elements: a numgen field prints as
// a decimal number, where a plain "integer" field in a concatenation makes
// nft 1.0.6 abort.
type Typeof struct {
	Key, Data []TypeofExpr
}

// TypeofExpr is one field's expression.
type TypeofExpr struct {
	text  string
	kind  uint32   // nft's expression type
	attrs []uint32 // its user-data attributes, in order
	field nftables.SetDatatype
}

// nft's expression types and payload descriptions in set user data.
const (
	exprPayload = 7
	exprMeta    = 9
	exprConcat  = 13
	exprNumgen  = 23

	protoDescTH   = 11
	protoDescIP   = 12
	protoDescIP6  = 13
	thDport       = 2
	ipDaddrField  = 12
	ip6DaddrField = 9
	metaL4Proto   = 16
	numgenRandom  = 1
)

// DAddrExpr is "ip daddr" (or "ip6 daddr").
func (f Family) DAddrExpr() TypeofExpr {
	if f == IPv6 {
		return TypeofExpr{text: "ip6 daddr", kind: exprPayload, attrs: []uint32{protoDescIP6, ip6DaddrField}, field: nftables.TypeIP6Addr}
	}
	return TypeofExpr{text: "ip daddr", kind: exprPayload, attrs: []uint32{protoDescIP, ipDaddrField}, field: nftables.TypeIPAddr}
}

// L4ProtoExpr is "meta l4proto".
func L4ProtoExpr() TypeofExpr {
	return TypeofExpr{text: "meta l4proto", kind: exprMeta, attrs: []uint32{metaL4Proto}, field: nftables.TypeInetProto}
}

// DPortExpr is "th dport".
func DPortExpr() TypeofExpr {
	return TypeofExpr{text: "th dport", kind: exprPayload, attrs: []uint32{protoDescTH, thDport}, field: nftables.TypeInetService}
}

// NumgenExpr is "numgen random mod n" (a 32-bit number in host order).
func NumgenExpr(n uint32) TypeofExpr {
	return TypeofExpr{text: fmt.Sprintf("numgen random mod %d", n), kind: exprNumgen, attrs: []uint32{numgenRandom, n, 0}, field: nftables.TypeInteger}
}

// Fields are the data types of the expressions.
func fieldsOf(es []TypeofExpr) []nftables.SetDatatype {
	out := make([]nftables.SetDatatype, len(es))
	for i, e := range es {
		out[i] = e.field
	}
	return out
}

func (t *Typeof) text() string {
	s := exprsText(t.Key)
	if len(t.Data) > 0 {
		s += " : " + exprsText(t.Data)
	}
	return s
}

func exprsText(es []TypeofExpr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.text
	}
	return strings.Join(parts, " . ")
}

// Set user data: type-length-value records of one byte each for type and
// length, numbers in host byte order (libnftnl's udata format).
const (
	udataKeyByteorder  = 0
	udataDataByteorder = 1
	udataKeyTypeof     = 3
	udataDataTypeof    = 4
	udataDataInterval  = 6
	udataTableComment  = 0
)

type udata []byte

func (u udata) rec(typ byte, v []byte) udata {
	return append(append(u, typ, byte(len(v))), v...)
}

func (u udata) u32(typ byte, v uint32) udata {
	return u.rec(typ, binary.NativeEndian.AppendUint32(nil, v))
}

func exprUdata(es []TypeofExpr) []byte {
	one := func(e TypeofExpr) []byte {
		var attrs udata
		for i, a := range e.attrs {
			attrs = attrs.u32(byte(i), a)
		}
		return udata(nil).u32(0, e.kind).rec(1, attrs)
	}
	if len(es) == 1 {
		return one(es[0])
	}
	var list udata
	for i, e := range es {
		list = list.rec(byte(i), one(e))
	}
	return udata(nil).u32(0, exprConcat).rec(1, list)
}

// udata is the set's user data carrying the typeof declaration.
func (t *Typeof) udata() []byte {
	u := udata(nil).u32(udataKeyByteorder, 0).u32(udataDataByteorder, 0)
	u = u.rec(udataKeyTypeof, exprUdata(t.Key))
	if len(t.Data) > 0 {
		u = u.rec(udataDataTypeof, exprUdata(t.Data))
	}
	return u.u32(udataDataInterval, 0)
}

// render prints key or data bytes the way nft does for these field types.
func render(fields []nftables.SetDatatype, b []byte) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		n := int(f.Bytes)
		if len(fields) > 1 {
			n = (n + 3) &^ 3
		}
		if len(b) < int(f.Bytes) {
			break
		}
		parts = append(parts, renderField(f, b[:f.Bytes]))
		b = b[min(n, len(b)):]
	}
	return strings.Join(parts, " . ")
}

func renderField(f nftables.SetDatatype, b []byte) string {
	switch f.Name {
	case nftables.TypeIPAddr.Name, nftables.TypeIP6Addr.Name:
		a, _ := netip.AddrFromSlice(b)
		return a.String()
	case nftables.TypeInetProto.Name:
		return Protocol(b[0]).String()
	case nftables.TypeInetService.Name:
		return fmt.Sprint(binary.BigEndian.Uint16(b))
	case nftables.TypeInteger.Name:
		return fmt.Sprint(binary.NativeEndian.Uint32(b))
	}
	return fmt.Sprintf("%#x", b)
}
