package proxy

import (
	"net/netip"
	"strings"
	"testing"

	"kserver.dev/kserver/internal/nft"
)

// NodePorts answer on the node's external IPs (--node-external-ip) even
// when no interface has them (1:1 NAT): one rule per address sends them
// to the NodePort map, and the no-endpoint checks cover them on every
// path. Addresses of the other family are left out; without extra
// addresses the table is the one the other golden files show.
func TestGoldenNodePortAddresses(t *testing.T) {
	cfg := v4
	cfg.NodePortAddresses = []netip.Addr{ip("203.0.113.5"), ip("2001:db8::5"), ip("203.0.113.5")}
	services := []Service{
		web(ready("10.42.0.2", 8080, true)),
		{Namespace: "default", Name: "empty", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.20"), NodePort: 30020},
	}
	tbl, err := Ruleset(cfg, services)
	if err != nil {
		t.Fatal(err)
	}
	got := tbl.String()
	golden(t, "nodeport-addresses", got)
	if n := strings.Count(got, "203.0.113.5"); n != 3 || strings.Contains(got, "2001:db8::5") {
		t.Errorf("want 203.0.113.5 in 3 rules (dispatch, reject, drop) and no IPv6 address; it appears %d times", n)
	}
	plain, err := Ruleset(v4, services)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Comment == tbl.Comment {
		t.Error("the table's layout comment does not change with the NodePort addresses: a restart would adopt a table without them")
	}
}
