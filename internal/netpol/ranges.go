package netpol

import (
	"net/netip"
	"slices"

	"kserver.dev/kserver/internal/nft"
)

// span is the half-open address range [from, to); to is invalid when the
// range runs to the end of the address space.
type span struct{ from, to netip.Addr }

func prefixSpan(p netip.Prefix) span {
	p = p.Masked()
	last := p.Addr()
	for i := p.Bits(); i < last.BitLen(); i++ {
		last = setBit(last, i)
	}
	return span{p.Addr(), last.Next()}
}

func setBit(a netip.Addr, bit int) netip.Addr {
	b := a.AsSlice()
	b[bit/8] |= 0x80 >> (bit % 8)
	out, _ := netip.AddrFromSlice(b)
	return out
}

// less orders range ends, an invalid "to" (end of space) last.
func endLess(a, b netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	return !b.IsValid() || a.Less(b)
}

// peerSpans turns a rule's peers of family f into disjoint, merged,
// sorted ranges: pod addresses, and ipBlocks minus their exceptions.
func peerSpans(f nft.Family, peers []Peer) []span {
	var spans []span
	for _, p := range peers {
		for _, a := range p.IPs {
			if f.Has(a) {
				spans = append(spans, prefixSpan(netip.PrefixFrom(a, a.BitLen())))
			}
		}
		if p.CIDR.IsValid() && f.Has(p.CIDR.Addr()) {
			spans = append(spans, subtract(prefixSpan(p.CIDR), p.Except)...)
		}
	}
	return merge(spans)
}

// subtract removes the except prefixes from s.
func subtract(s span, except []netip.Prefix) []span {
	out := []span{s}
	for _, e := range except {
		es := prefixSpan(e)
		var next []span
		for _, r := range out {
			// part before e
			if r.from.Less(es.from) {
				to := r.to
				if endLess(es.from, to) {
					to = es.from
				}
				next = append(next, span{r.from, to})
			}
			// part after e
			if es.to.IsValid() && endLess(es.to, r.to) {
				from := es.to
				if from.Less(r.from) {
					from = r.from
				}
				next = append(next, span{from, r.to})
			}
		}
		out = next
	}
	return out
}

func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && !endLess(out[n-1].to, s.from) {
			if endLess(out[n-1].to, s.to) || !s.to.IsValid() {
				out[n-1].to = s.to
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// key is the interval-set element of a range.
func (s span) key(f nft.Family) nft.Key {
	k := f.AddrKey(s.from)
	text := s.from.String()
	if !s.to.IsValid() {
		text += "-end"
	} else if s.to != s.from.Next() {
		text += "-" + s.to.Prev().String()
	}
	k.Text = text
	k.Prefix = true
	if s.to.IsValid() {
		k.End = f.AddrKey(s.to).Bytes
	}
	return k
}
