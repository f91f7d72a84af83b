package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Family is the address family of a table: IPv4 (`ip`) or IPv6 (`ip6`).
type Family int

// The two families kserver programs.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String is the nft family keyword.
func (f Family) String() string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

// Of returns the family of an address.
func Of(a netip.Addr) Family {
	if a.Is4() || a.Is4In6() {
		return IPv4
	}
	return IPv6
}

// Has reports whether a is an address of this family.
func (f Family) Has(a netip.Addr) bool { return a.IsValid() && Of(a) == f }

func (f Family) table() nftables.TableFamily {
	if f == IPv6 {
		return nftables.TableFamilyIPv6
	}
	return nftables.TableFamilyIPv4
}

func (f Family) nfproto() uint32 {
	if f == IPv6 {
		return unix.NFPROTO_IPV6
	}
	return unix.NFPROTO_IPV4
}

// AddrLen is the length of an address in bytes.
func (f Family) AddrLen() int {
	if f == IPv6 {
		return 16
	}
	return 4
}

func (f Family) addrType() nftables.SetDatatype {
	if f == IPv6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

// srcOffset and dstOffset are the offsets of the addresses in the header.
func (f Family) srcOffset() uint32 {
	if f == IPv6 {
		return 8
	}
	return 12
}

func (f Family) dstOffset() uint32 {
	if f == IPv6 {
		return 24
	}
	return 16
}

func (f Family) addrBytes(a netip.Addr) []byte {
	if f == IPv6 {
		b := a.As16()
		return b[:]
	}
	b := a.Unmap().As4()
	return b[:]
}

// Loopback is 127.0.0.0/8 or ::1/128.
func (f Family) Loopback() netip.Prefix {
	if f == IPv6 {
		return netip.MustParsePrefix("::1/128")
	}
	return netip.MustParsePrefix("127.0.0.0/8")
}

// Multicast is 224.0.0.0/4 or ff00::/8.
func (f Family) Multicast() netip.Prefix {
	if f == IPv6 {
		return netip.MustParsePrefix("ff00::/8")
	}
	return netip.MustParsePrefix("224.0.0.0/4")
}

// Protocol is an L4 protocol number.
type Protocol uint8

// The protocols Services and NetworkPolicies use.
const (
	TCP  Protocol = unix.IPPROTO_TCP
	UDP  Protocol = unix.IPPROTO_UDP
	SCTP Protocol = unix.IPPROTO_SCTP
)

// String is the nft keyword.
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	}
	return fmt.Sprintf("%d", uint8(p))
}

// ParseProtocol maps "TCP"/"UDP"/"SCTP" (either case) to a Protocol.
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "TCP", "tcp", "":
		return TCP, nil
	case "UDP", "udp":
		return UDP, nil
	case "SCTP", "sctp":
		return SCTP, nil
	}
	return 0, fmt.Errorf("unsupported protocol %q", s)
}

func pad4(b []byte) []byte {
	n := (len(b) + 3) &^ 3
	out := make([]byte, n)
	copy(out, b)
	return out
}

func be16(v uint16) []byte {
	b := make([]byte, 2)
	binary.BigEndian.PutUint16(b, v)
	return b
}

func native32(v uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return b
}
