package nodeipam

import (
	"net/netip"
	"testing"
)

func TestCIDRSetSubnetsAndIndexes(t *testing.T) {
	cases := []struct {
		base string
		mask int
		i    int
		want string
	}{
		{"10.42.0.0/16", 24, 0, "10.42.0.0/24"},
		{"10.42.0.0/16", 24, 1, "10.42.1.0/24"},
		{"10.42.0.0/16", 24, 255, "10.42.255.0/24"},
		{"10.0.0.0/8", 24, 65535, "10.255.255.0/24"},
		{"fd00:42::/56", 64, 3, "fd00:42:0:3::/64"},
		{"fd00::/48", 64, 0x1234, "fd00:0:0:1234::/64"},
	}
	for _, tc := range cases {
		s, err := newCIDRSet(netip.MustParsePrefix(tc.base), tc.mask)
		if err != nil {
			t.Fatal(err)
		}
		got := s.subnet(tc.i)
		if got.String() != tc.want {
			t.Errorf("%s /%d #%d = %s, want %s", tc.base, tc.mask, tc.i, got, tc.want)
		}
		if i, ok := s.index(got); !ok || i != tc.i {
			t.Errorf("index(%s) = %d %v, want %d", got, i, ok, tc.i)
		}
	}
	s, _ := newCIDRSet(netip.MustParsePrefix("10.42.0.0/16"), 24)
	for _, bad := range []string{"10.43.0.0/24", "10.42.1.0/25", "fd00::/64"} {
		if _, ok := s.index(netip.MustParsePrefix(bad)); ok {
			t.Errorf("%s must not be a subnet of 10.42.0.0/16", bad)
		}
	}
	if _, err := newCIDRSet(netip.MustParsePrefix("10.0.0.0/8"), 26); err == nil {
		t.Error("more than 65536 subnets must be refused")
	}
}

func TestCIDRSetAllocatesRoundRobinAndRunsOut(t *testing.T) {
	s, _ := newCIDRSet(netip.MustParsePrefix("10.42.0.0/22"), 24)
	s.occupy(1)
	var got []int
	for {
		i, ok := s.allocate()
		if !ok {
			break
		}
		got = append(got, i)
	}
	if len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("allocations %v", got)
	}
	s.release(2)
	if i, ok := s.allocate(); !ok || i != 2 {
		t.Fatalf("after release: %d %v", i, ok)
	}
}
