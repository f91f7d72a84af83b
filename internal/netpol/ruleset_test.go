package netpol

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kserver.dev/kserver/internal/nft"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }
func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func keys(spans []span) (out []string) {
	for _, s := range spans {
		out = append(out, s.key(nft.IPv4).Text)
	}
	return out
}

func TestPeerSpans(t *testing.T) {
	cases := []struct {
		name  string
		peers []Peer
		want  string
	}{
		{"block with except", []Peer{{CIDR: pfx("10.0.0.0/8"), Except: []netip.Prefix{pfx("10.1.0.0/16"), pfx("10.3.0.0/16")}}},
			"10.0.0.0-10.0.255.255 10.2.0.0-10.2.255.255 10.4.0.0-10.255.255.255"},
		{"except at both ends", []Peer{{CIDR: pfx("10.0.0.0/24"), Except: []netip.Prefix{pfx("10.0.0.0/25"), pfx("10.0.0.255/32")}}},
			"10.0.0.128-10.0.0.254"},
		{"pods merged with block", []Peer{{IPs: []netip.Addr{ip("10.42.0.5"), ip("10.42.1.7"), ip("fd00::1")}}, {CIDR: pfx("10.42.0.0/24")}},
			"10.42.0.0-10.42.0.255 10.42.1.7"},
		{"adjacent pods merge", []Peer{{IPs: []netip.Addr{ip("10.42.0.3"), ip("10.42.0.2")}}}, "10.42.0.2-10.42.0.3"},
		{"everything", []Peer{{CIDR: pfx("0.0.0.0/0"), Except: []netip.Prefix{pfx("169.254.0.0/16")}}},
			"0.0.0.0-169.253.255.255 169.255.0.0-end"},
	}
	for _, tc := range cases {
		if got := strings.Join(keys(peerSpans(nft.IPv4, tc.peers)), " "); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func samplePolicies() []Policy {
	return []Policy{
		{Namespace: "shop", Name: "default-deny", Pods: []netip.Addr{ip("10.42.0.2"), ip("10.42.0.3")}, Ingress: true, Egress: true},
		{Namespace: "shop", Name: "web", Pods: []netip.Addr{ip("10.42.0.2")}, Ingress: true,
			IngressRules: []Rule{
				{Peers: []Peer{{IPs: []netip.Addr{ip("10.42.1.5"), ip("10.42.0.3")}}, {CIDR: pfx("192.168.0.0/16"), Except: []netip.Prefix{pfx("192.168.1.0/24")}}},
					Ports: []Port{{Protocol: nft.TCP, Port: 8080}, {Protocol: nft.TCP, Port: 9000, EndPort: 9100}}},
				{Ports: []Port{{Protocol: nft.UDP}}},
			}},
		{Namespace: "shop", Name: "db-egress", Pods: []netip.Addr{ip("10.42.0.3")}, Egress: true,
			EgressRules: []Rule{{Peers: []Peer{{CIDR: pfx("10.43.0.0/16")}}}, {}}},
	}
}

func TestGoldenRuleset(t *testing.T) {
	tbl, err := Ruleset(Config{}, samplePolicies())
	if err != nil {
		t.Fatal(err)
	}
	got := tbl.String()
	path := filepath.Join("testdata", "policies.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("ruleset differs from %s:\n%s", path, got)
	}
}

func TestRulesetRejectsBadInput(t *testing.T) {
	for name, p := range map[string]Policy{
		"no name":         {Namespace: "a"},
		"bad protocol":    {Namespace: "a", Name: "b", IngressRules: []Rule{{Ports: []Port{{Protocol: 1, Port: 1}}}}},
		"reversed range":  {Namespace: "a", Name: "b", IngressRules: []Rule{{Ports: []Port{{Protocol: nft.TCP, Port: 90, EndPort: 80}}}}},
		"except outside":  {Namespace: "a", Name: "b", EgressRules: []Rule{{Peers: []Peer{{CIDR: pfx("10.0.0.0/16"), Except: []netip.Prefix{pfx("10.1.0.0/24")}}}}}},
		"except too wide": {Namespace: "a", Name: "b", EgressRules: []Rule{{Peers: []Peer{{CIDR: pfx("10.0.0.0/16"), Except: []netip.Prefix{pfx("10.0.0.0/8")}}}}}},
	} {
		if _, err := Ruleset(Config{}, []Policy{p}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p := Policy{Namespace: "a", Name: "b"}
	if _, err := Ruleset(Config{}, []Policy{p, p}); err == nil {
		t.Error("duplicate policy accepted")
	}
}
