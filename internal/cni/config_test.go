package cni

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestRenderGolden(t *testing.T) {
	cfg := Config{PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.3.0/24"), netip.MustParsePrefix("fd42:0:0:3::/64")},
		MTU: 1450, DataDir: "/var/lib/kserver/agent"}
	podNet, lo, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"conflist": podNet, "loopback": lo} {
		path := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from %s:\n%s", name, path, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24")}, DataDir: "/var/lib/kserver/agent"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"no podCIDR":    {DataDir: "/d"},
		"tiny podCIDR":  {PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/31")}, DataDir: "/d"},
		"two IPv4":      {PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24"), netip.MustParsePrefix("10.42.1.0/24")}, DataDir: "/d"},
		"relative dir":  {PodCIDRs: good.PodCIDRs, DataDir: "data"},
		"MTU below 576": {PodCIDRs: good.PodCIDRs, DataDir: "/d", MTU: 100},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAttachmentValidate(t *testing.T) {
	for name, a := range map[string]Attachment{
		"no id":        {NetNS: "/run/netns/x"},
		"no netns":     {ContainerID: "c1"},
		"hostPort 0":   {ContainerID: "c1", NetNS: "/n", PortMappings: []PortMapping{{ContainerPort: 80, Protocol: "TCP"}}},
		"bad protocol": {ContainerID: "c1", NetNS: "/n", PortMappings: []PortMapping{{HostPort: 80, ContainerPort: 80, Protocol: "icmp"}}},
	} {
		if err := a.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	a := Attachment{ContainerID: "c1", NetNS: "/n"}
	if err := a.validate(); err != nil || a.IfName != "eth0" {
		t.Fatalf("default interface: %q %v", a.IfName, err)
	}
}
