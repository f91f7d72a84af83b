package proxy

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/nft"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func ready(a string, port uint16, local bool) Endpoint {
	return Endpoint{IP: ip(a), Port: port, Ready: true, Serving: true, Local: local}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("ruleset differs from %s:\n%s", path, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}

var v4 = Config{Family: nft.IPv4, ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("fd42::/56")}}

func TestGoldenEmpty(t *testing.T) {
	tbl, err := Ruleset(v4, nil)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "empty", tbl.String())
}

func TestGoldenServiceKinds(t *testing.T) {
	services := []Service{
		{Namespace: "ns1", Name: "web", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.10"),
			Endpoints: []Endpoint{ready("10.42.0.2", 8080, true), ready("10.42.1.2", 8080, false),
				{IP: ip("10.42.0.9"), Port: 8080, Serving: true, Terminating: true, Local: true}, // not used: others are ready
				{IP: ip("10.42.0.8"), Port: 8080}}},                                              // not ready
		{Namespace: "ns1", Name: "dns", PortName: "dns", Protocol: nft.UDP, Port: 53, ClusterIP: ip("10.43.0.53"),
			Endpoints: []Endpoint{ready("10.42.0.3", 53, true)}},
		{Namespace: "ns1", Name: "sctp", Protocol: nft.SCTP, Port: 9999, ClusterIP: ip("10.43.0.99"),
			Endpoints: []Endpoint{ready("10.42.0.4", 9999, true)}},
		{Namespace: "ns1", Name: "empty", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.20"), NodePort: 30020},
		{Namespace: "ns1", Name: "headless", Protocol: nft.TCP, Port: 80,
			Endpoints: []Endpoint{ready("10.42.0.5", 80, true)}},
		{Namespace: "ns2", Name: "draining", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.30"),
			Endpoints: []Endpoint{{IP: ip("10.42.0.6"), Port: 80, Serving: true, Terminating: true}}},
	}
	tbl, err := Ruleset(v4, services)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "kinds", tbl.String())
}

func TestGoldenExternalAndAffinity(t *testing.T) {
	services := []Service{
		{Namespace: "ns1", Name: "np", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.40"), NodePort: 30080,
			ExternalIPs: []netip.Addr{ip("192.0.2.10")}, LoadBalancerIPs: []netip.Addr{ip("192.0.2.20"), ip("2001:db8::20")},
			Endpoints: []Endpoint{ready("10.42.0.2", 80, true), ready("10.42.1.2", 80, false)}},
		{Namespace: "ns1", Name: "etp-local", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.41"), NodePort: 30081, ExternalLocal: true,
			Endpoints: []Endpoint{ready("10.42.0.2", 80, true), ready("10.42.1.2", 80, false)}},
		{Namespace: "ns1", Name: "etp-local-remote", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.42"), NodePort: 30082, ExternalLocal: true,
			Endpoints: []Endpoint{ready("10.42.1.2", 80, false)}},
		{Namespace: "ns1", Name: "itp-local", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.43"), InternalLocal: true,
			Endpoints: []Endpoint{ready("10.42.1.2", 80, false)}},
		{Namespace: "ns1", Name: "sticky", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.44"), AffinityTimeout: 10800 * time.Second,
			Endpoints: []Endpoint{ready("10.42.0.2", 80, true), ready("10.42.0.3", 80, true)}},
	}
	tbl, err := Ruleset(v4, services)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "external", tbl.String())
}

func TestGoldenIPv6(t *testing.T) {
	cfg := v4
	cfg.Family = nft.IPv6
	services := []Service{{Namespace: "ns1", Name: "web", Protocol: nft.TCP, Port: 80, ClusterIP: ip("fd43::10"), NodePort: 30080,
		Endpoints: []Endpoint{ready("fd42::2", 8080, true)}}}
	tbl, err := Ruleset(cfg, services)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ipv6", tbl.String())
}

func TestRulesetRejectsBadInput(t *testing.T) {
	for name, s := range map[string]Service{
		"wrong family":   {Namespace: "a", Name: "b", Protocol: nft.TCP, Port: 80, ClusterIP: ip("fd43::1")},
		"port 0":         {Namespace: "a", Name: "b", Protocol: nft.TCP, ClusterIP: ip("10.43.0.1")},
		"no name":        {Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.1")},
		"bad protocol":   {Namespace: "a", Name: "b", Protocol: 47, Port: 80, ClusterIP: ip("10.43.0.1")},
		"endpoint v6":    {Namespace: "a", Name: "b", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.1"), Endpoints: []Endpoint{ready("fd42::1", 80, true)}},
		"endpoint port0": {Namespace: "a", Name: "b", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.1"), Endpoints: []Endpoint{ready("10.42.0.1", 0, true)}},
	} {
		if _, err := Ruleset(v4, []Service{s}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s := Service{Namespace: "a", Name: "b", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.1")}
	if _, err := Ruleset(v4, []Service{s, s}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate accepted: %v", err)
	}
}

func web(eps ...Endpoint) Service {
	return Service{Namespace: "default", Name: "web", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.10"), NodePort: 30080, Endpoints: eps}
}
