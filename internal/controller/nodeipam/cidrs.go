package nodeipam

import (
	"fmt"
	"math/bits"
	"net/netip"
)

// cidrSet hands out the subnets of one size inside a cluster range.
type cidrSet struct {
	base  netip.Prefix
	mask  int
	count int
	used  []bool
	next  int // where the search for a free subnet starts (round robin)
	free  int
}

// maxSubnets bounds the bitmap (a /8 cut into /24s is 65536).
const maxSubnets = 1 << 16

func newCIDRSet(base netip.Prefix, mask int) (*cidrSet, error) {
	base = base.Masked()
	if mask < base.Bits() || mask > base.Addr().BitLen() {
		return nil, fmt.Errorf("node mask /%d does not fit in cluster cidr %s", mask, base)
	}
	n := mask - base.Bits()
	if n > 16 {
		return nil, fmt.Errorf("cluster cidr %s cut into /%d gives more than %d subnets", base, mask, maxSubnets)
	}
	count := 1 << n
	return &cidrSet{base: base, mask: mask, count: count, used: make([]bool, count), free: count}, nil
}

// subnet is the i-th subnet.
func (s *cidrSet) subnet(i int) netip.Prefix {
	b := s.base.Addr().As16()
	shift := s.base.Addr().BitLen() - s.mask // bits below the subnet index
	// Add i << shift to the 128-bit address.
	hi, lo := uint64(0), uint64(i)
	if shift >= 64 {
		hi, lo = lo<<(shift-64), 0
	} else if shift > 0 {
		hi, lo = lo>>(64-shift), lo<<shift
	}
	a := be64(b[8:]) + lo
	carry := uint64(0)
	if a < lo {
		carry = 1
	}
	h := be64(b[:8]) + hi + carry
	putBe64(b[:8], h)
	putBe64(b[8:], a)
	addr := netip.AddrFrom16(b)
	if s.base.Addr().Is4() {
		addr = addr.Unmap()
	}
	return netip.PrefixFrom(addr, s.mask)
}

// index finds which subnet p is (false when p is not one of them).
func (s *cidrSet) index(p netip.Prefix) (int, bool) {
	if p.Bits() != s.mask || !s.base.Contains(p.Addr()) || p.Addr().Is4() != s.base.Addr().Is4() {
		return 0, false
	}
	a, b := p.Masked().Addr().As16(), s.base.Addr().As16()
	shift := s.base.Addr().BitLen() - s.mask
	diffHi, borrow := bits.Sub64(be64(a[8:]), be64(b[8:]), 0)
	hi, _ := bits.Sub64(be64(a[:8]), be64(b[:8]), borrow)
	var i uint64
	switch {
	case shift >= 64:
		i = hi >> (shift - 64)
	case shift == 0:
		i = diffHi
	default:
		i = diffHi>>shift | hi<<(64-shift)
	}
	if i >= uint64(s.count) {
		return 0, false
	}
	return int(i), true
}

func (s *cidrSet) occupy(i int) {
	if !s.used[i] {
		s.used[i] = true
		s.free--
	}
}

func (s *cidrSet) release(i int) {
	if s.used[i] {
		s.used[i] = false
		s.free++
	}
}

// allocate takes the next free subnet after the last one given.
func (s *cidrSet) allocate() (int, bool) {
	if s.free == 0 {
		return 0, false
	}
	for k := 0; k < s.count; k++ {
		i := (s.next + k) % s.count
		if !s.used[i] {
			s.occupy(i)
			s.next = (i + 1) % s.count
			return i, true
		}
	}
	return 0, false
}

func be64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func putBe64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}
