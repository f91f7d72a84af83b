package overlay

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{NodeIP: netip.MustParseAddr("192.168.1.10"), PodCIDR: netip.MustParsePrefix("10.42.3.0/24"), ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16")}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	if err := (Config{Backend: None}).Validate(); err != nil {
		t.Fatalf("backend none needs nothing: %v", err)
	}
	cases := map[string]func(c *Config){
		"unknown backend":      func(c *Config) { c.Backend = "wireguard" },
		"no podCIDR":           func(c *Config) { c.PodCIDR = netip.Prefix{} },
		"podCIDR outside":      func(c *Config) { c.PodCIDR = netip.MustParsePrefix("10.50.0.0/24") },
		"no node IP nor iface": func(c *Config) { c.NodeIP = netip.Addr{} },
		"IPv6 node IP":         func(c *Config) { c.NodeIP = netip.MustParseAddr("fd00::1") },
		"bad VNI":              func(c *Config) { c.VNI = 1 << 24 },
		"bad MAC":              func(c *Config) { c.VtepMAC = net.HardwareAddr{1, 2, 3} },
		"bad checksum offload": func(c *Config) { c.ChecksumOffload = "maybe" },
	}
	for name, mutate := range cases {
		c := ok
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "overlay: ") {
			t.Errorf("%s: error %q does not name the component", name, err)
		}
	}
}

func TestPeerValidate(t *testing.T) {
	p := Peer{Name: "n2", PodCIDR: netip.MustParsePrefix("10.42.1.0/24"), PublicIP: netip.MustParseAddr("192.168.1.11")}
	if err := p.validate(HostGW); err != nil {
		t.Fatalf("host-gw peer without MAC: %v", err)
	}
	if err := p.validate(VXLAN); err == nil {
		t.Fatal("vxlan peer without VTEP MAC accepted")
	}
}

func TestNewMACIsLocalUnicast(t *testing.T) {
	for range 100 {
		m := newMAC()
		if m[0]&0x01 != 0 || m[0]&0x02 == 0 {
			t.Fatalf("%s is not a locally administered unicast MAC", m)
		}
	}
}

func TestMasqueradeTable(t *testing.T) {
	c := Config{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16")}
	c.defaults()
	got := masqueradeTable(c).String()
	for _, want := range []string{
		"meta mark & 0x00004000 != 0 return",
		"ip saddr 10.42.0.0/16 ip daddr 10.42.0.0/16 return",
		"ip saddr 10.42.0.0/16 ip daddr 224.0.0.0/4 return",
		"ip saddr 10.42.0.0/16 masquerade fully-random",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("masquerade table lacks %q:\n%s", want, got)
		}
	}
	c.NoMasquerade = true
	if strings.Contains(masqueradeTable(c).String(), "masquerade") {
		t.Error("NoMasquerade still masquerades")
	}
}
