package nft

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Rule is one rule: the netlink expressions and the text nft prints.
type Rule struct {
	Text  string
	exprs []expr.Any
}

// R builds a rule; every method appends a match or a statement.
type R struct {
	fam   Family
	text  []string
	exprs []expr.Any
}

// Rule starts a rule for a table of family f.
func (f Family) Rule() *R { return &R{fam: f} }

func (r *R) add(text string, e ...expr.Any) *R {
	r.text = append(r.text, text)
	r.exprs = append(r.exprs, e...)
	return r
}

// Build finishes the rule.
func (r *R) Build() Rule {
	return Rule{Text: strings.Join(r.text, " "), exprs: r.exprs}
}

// Verdict ends the rule with a verdict.
func (r *R) Verdict(v Verdict) Rule { return r.add(v.String(), v.expr()).Build() }

func cmpOp(neq bool) (expr.CmpOp, string) {
	if neq {
		return expr.CmpOpNeq, "!= "
	}
	return expr.CmpOpEq, ""
}

func (r *R) addrMatch(field string, off uint32, p netip.Prefix, neq bool) *R {
	p = p.Masked()
	op, opText := cmpOp(neq)
	n := uint32(r.fam.AddrLen())
	exprs := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}}
	text := p.Addr().String()
	if !p.IsSingleIP() {
		text = p.String()
		mask := r.fam.addrBytes(netip.PrefixFrom(allOnes(r.fam), p.Bits()).Masked().Addr())
		exprs = append(exprs, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	exprs = append(exprs, &expr.Cmp{Op: op, Register: 1, Data: r.fam.addrBytes(p.Addr())})
	return r.add(fmt.Sprintf("%s %s %s%s", r.fam, field, opText, text), exprs...)
}

func allOnes(f Family) netip.Addr {
	if f == IPv6 {
		return netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	}
	return netip.MustParseAddr("255.255.255.255")
}

// SAddr matches the source address against a prefix (neq: does not match).
func (r *R) SAddr(p netip.Prefix, neq bool) *R {
	return r.addrMatch("saddr", r.fam.srcOffset(), p, neq)
}

// DAddr matches the destination address against a prefix.
func (r *R) DAddr(p netip.Prefix, neq bool) *R {
	return r.addrMatch("daddr", r.fam.dstOffset(), p, neq)
}

func (r *R) addrInSet(field string, off uint32, set string, neq bool) *R {
	_, opText := cmpOp(neq)
	return r.add(fmt.Sprintf("%s %s %s@%s", r.fam, field, opText, set),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(r.fam.AddrLen())},
		&expr.Lookup{SourceRegister: 1, SetName: set, Invert: neq})
}

// SAddrIn matches the source address against a named set.
func (r *R) SAddrIn(set string, neq bool) *R {
	return r.addrInSet("saddr", r.fam.srcOffset(), set, neq)
}

// DAddrIn matches the destination address against a named set.
func (r *R) DAddrIn(set string, neq bool) *R {
	return r.addrInSet("daddr", r.fam.dstOffset(), set, neq)
}

// AddrInSet matches the address field ("saddr" or "daddr") against a set.
func (r *R) AddrInSet(field, set string) *R {
	if field == "saddr" {
		return r.SAddrIn(set, false)
	}
	return r.DAddrIn(set, false)
}

// AddrVmap dispatches the address field ("saddr" or "daddr") through a
// verdict map.
func (r *R) AddrVmap(field, set string) Rule {
	off := r.fam.dstOffset()
	if field == "saddr" {
		off = r.fam.srcOffset()
	}
	return r.add(fmt.Sprintf("%s %s vmap @%s", r.fam, field, set),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(r.fam.AddrLen())},
		&expr.Lookup{SourceRegister: 1, SetName: set, IsDestRegSet: true, DestRegister: 0}).Build()
}

// ClearMark clears bits of the packet mark.
func (r *R) ClearMark(bits uint32) *R {
	return r.add(fmt.Sprintf("meta mark set meta mark & %#08x", ^bits),
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(^bits), Xor: native32(0)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
}

// L4Proto matches the transport protocol.
func (r *R) L4Proto(p Protocol) *R {
	return r.add("meta l4proto "+p.String(),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(p)}})
}

// DPort matches the transport destination port (after L4Proto).
func (r *R) DPort(port uint16) *R {
	return r.add(fmt.Sprintf("th dport %d", port),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(port)})
}

// DPortRange matches a destination port range, both ends included.
func (r *R) DPortRange(lo, hi uint16) *R {
	if lo == hi {
		return r.DPort(lo)
	}
	return r.add(fmt.Sprintf("th dport %d-%d", lo, hi),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(lo), ToData: be16(hi)})
}

// FibDAddrLocal matches packets addressed to an address of this host.
func (r *R) FibDAddrLocal() *R {
	return r.add("fib daddr type local",
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: native32(unix.RTN_LOCAL)})
}

// FibSAddrLocal matches packets sent from an address of this host.
func (r *R) FibSAddrLocal() *R {
	return r.add("fib saddr type local",
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: native32(unix.RTN_LOCAL)})
}

// MarkSet matches packets whose mark has any of bits set (neq=false) or
// none of them (neq=true).
func (r *R) MarkSet(bits uint32, none bool) *R {
	op, text := expr.CmpOpNeq, "!="
	if none {
		op, text = expr.CmpOpEq, "=="
	}
	return r.add(fmt.Sprintf("meta mark & %#08x %s 0", bits, text),
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(bits), Xor: native32(0)},
		&expr.Cmp{Op: op, Register: 1, Data: native32(0)})
}

// SetMarkOr sets bits in the packet mark.
func (r *R) SetMarkOr(bits uint32) *R {
	return r.add(fmt.Sprintf("meta mark set meta mark | %#08x", bits),
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(^bits), Xor: native32(bits)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
}

// SetMarkXor flips bits in the packet mark.
func (r *R) SetMarkXor(bits uint32) *R {
	return r.add(fmt.Sprintf("meta mark set meta mark ^ %#08x", bits),
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(0xffffffff), Xor: native32(bits)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
}

// CtState matches connection-tracking states ("established", "related",
// "new", "invalid").
func (r *R) CtState(states ...string) *R {
	bits := uint32(0)
	for _, s := range states {
		switch s {
		case "invalid":
			bits |= expr.CtStateBitINVALID
		case "established":
			bits |= expr.CtStateBitESTABLISHED
		case "related":
			bits |= expr.CtStateBitRELATED
		case "new":
			bits |= expr.CtStateBitNEW
		}
	}
	return r.add("ct state "+strings.Join(states, ","),
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(bits), Xor: native32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: native32(0)})
}

// CtStatusDNAT matches packets of connections whose destination was
// translated ("ct status dnat").
func (r *R) CtStatusDNAT() *R {
	const ipsDstNAT = 1 << 5 // IPS_DST_NAT in the conntrack status bits
	return r.add("ct status dnat",
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(ipsDstNAT), Xor: native32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: native32(0)})
}

func ifname(name string) []byte {
	if strings.HasSuffix(name, "*") {
		return []byte(strings.TrimSuffix(name, "*"))
	}
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// IIFName matches the input interface name ("veth*" matches a prefix).
func (r *R) IIFName(name string, neq bool) *R {
	op, opText := cmpOp(neq)
	return r.add(fmt.Sprintf("iifname %s%q", opText, name),
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)})
}

// OIFName matches the output interface name.
func (r *R) OIFName(name string, neq bool) *R {
	op, opText := cmpOp(neq)
	return r.add(fmt.Sprintf("oifname %s%q", opText, name),
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)})
}

// ServiceVmap dispatches "daddr . l4proto . dport" through a verdict map.
func (r *R) ServiceVmap(set string) Rule {
	n := uint32(r.fam.AddrLen())
	protoReg := 8 + n/4
	return r.add(fmt.Sprintf("%s daddr . meta l4proto . th dport vmap @%s", r.fam, set),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: r.fam.dstOffset(), Len: n},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: protoReg},
		&expr.Payload{DestRegister: protoReg + 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: set, IsDestRegSet: true, DestRegister: 0}).Build()
}

// serviceKey loads "daddr . l4proto . dport" into registers 1, 9/12, 10/13.
func (r *R) serviceKey() (exprs []expr.Any, next uint32) {
	n := uint32(r.fam.AddrLen())
	protoReg := 8 + n/4
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: r.fam.dstOffset(), Len: n},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: protoReg},
		&expr.Payload{DestRegister: protoReg + 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}, protoReg + 2
}

// protoPortKey loads "l4proto . dport" into registers 1 and 9.
func protoPortKey() (exprs []expr.Any, next uint32) {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}, 10
}

// ServiceIn matches "daddr . l4proto . dport" against a set.
func (r *R) ServiceIn(set string) *R {
	exprs, _ := r.serviceKey()
	return r.add(fmt.Sprintf("%s daddr . meta l4proto . th dport @%s", r.fam, set),
		append(exprs, &expr.Lookup{SourceRegister: 1, SetName: set})...)
}

// ProtoPortIn matches "l4proto . dport" against a set.
func (r *R) ProtoPortIn(set string) *R {
	exprs, _ := protoPortKey()
	return r.add("meta l4proto . th dport @"+set, append(exprs, &expr.Lookup{SourceRegister: 1, SetName: set})...)
}

// PickDNAT rewrites the destination to one of n endpoints at random: the
// key "daddr . l4proto . dport . slot", slot = offset + (random mod n), is
// looked up in the endpoint map set, which yields "addr . port". With
// nodePort the key is "l4proto . dport . slot". The rule depends only on
// n: which endpoints a Service has are map elements.
func (r *R) PickDNAT(set string, n, offset uint32, nodePort bool) Rule {
	exprs, next := r.serviceKey()
	key := fmt.Sprintf("%s daddr . meta l4proto . th dport", r.fam)
	if nodePort {
		exprs, next = protoPortKey()
		key = "meta l4proto . th dport"
	}
	text := fmt.Sprintf("dnat %s to %s . numgen random mod %d", r.fam, key, n)
	if offset > 0 {
		text += fmt.Sprintf(" offset %d", offset)
	}
	protoReg := 8 + uint32(r.fam.AddrLen())/4
	exprs = append(exprs,
		&expr.Numgen{Register: next, Modulus: n, Offset: offset, Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: 1, SetName: set, IsDestRegSet: true, DestRegister: 1},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: r.fam.nfproto(), RegAddrMin: 1, RegProtoMin: protoReg, Specified: true})
	return r.add(text+" map @"+set, exprs...).Build()
}

// ProtoPortVmap dispatches "l4proto . dport" through a verdict map.
func (r *R) ProtoPortVmap(set string) Rule {
	return r.add("meta l4proto . th dport vmap @"+set,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: set, IsDestRegSet: true, DestRegister: 0}).Build()
}

// NumgenPick returns n matches that, used in n consecutive rules, pick one
// of them uniformly at random: match i succeeds with probability 1/(n-i)
// ("numgen random mod n-i == 0"), the last always. Unlike a `numgen ...
// vmap { }` it needs no anonymous map: the kernel finds those by a linear
// walk of the transaction, which makes a full sync of thousands of
// Services quadratic.
func (r *R) NumgenPick(i, n int) *R {
	if i >= n-1 {
		return r
	}
	return r.add(fmt.Sprintf("numgen random mod %d == 0", n-i),
		&expr.Numgen{Register: 1, Modulus: uint32(n - i), Type: unix.NFT_NG_RANDOM},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: native32(0)})
}

// AddrPairIn matches "saddr . daddr" against a set of address pairs.
func (r *R) AddrPairIn(set string) *R {
	n := uint32(r.fam.AddrLen())
	return r.add(fmt.Sprintf("%s saddr . %s daddr @%s", r.fam, r.fam, set),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: r.fam.srcOffset(), Len: n},
		&expr.Payload{DestRegister: 8 + n/4, Base: expr.PayloadBaseNetworkHeader, Offset: r.fam.dstOffset(), Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: set})
}

// DNAT rewrites the destination to addr:port.
func (r *R) DNAT(a netip.Addr, port uint16) Rule {
	text := fmt.Sprintf("dnat to %s:%d", a, port)
	if r.fam == IPv6 {
		text = fmt.Sprintf("dnat to [%s]:%d", a, port)
	}
	return r.add(text,
		&expr.Immediate{Register: 1, Data: r.fam.addrBytes(a)},
		&expr.Immediate{Register: 2, Data: be16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: r.fam.nfproto(), RegAddrMin: 1, RegProtoMin: 2, Specified: true}).Build()
}

// Masquerade rewrites the source to the outgoing interface's address.
func (r *R) Masquerade() Rule {
	return r.add("masquerade fully-random", &expr.Masq{FullyRandom: true}).Build()
}

// Reject answers with an ICMP port-unreachable (the client sees
// "connection refused" at once instead of a timeout).
func (r *R) Reject() Rule {
	if r.fam == IPv6 {
		return r.add("reject with icmpv6 port-unreachable",
			&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 4}).Build()
	}
	return r.add("reject with icmp port-unreachable",
		&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}).Build()
}

// RejectTCPReset answers a TCP packet with a reset (after L4Proto(TCP)).
func (r *R) RejectTCPReset() Rule {
	return r.add("reject with tcp reset", &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}).Build()
}

// UpdateSAddr adds (or refreshes) the source address in a dynamic set.
func (r *R) UpdateSAddr(set string, timeout time.Duration) *R {
	return r.add(fmt.Sprintf("update @%s { %s saddr }", set, r.fam),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: r.fam.srcOffset(), Len: uint32(r.fam.AddrLen())},
		&expr.Dynset{SrcRegKey: 1, SetName: set, Operation: uint32(unix.NFT_DYNSET_OP_UPDATE), Timeout: timeout})
}

// Counter counts packets and bytes.
func (r *R) Counter() *R { return r.add("counter", &expr.Counter{}) }
