package agent

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The node's addresses, as k3s writes them: InternalIP, each ExternalIP
// (--node-external-ip), Hostname; without external IPs, no ExternalIP.
func TestNodeAddresses(t *testing.T) {
	cfg := Config{NodeName: "n1", NodeIP: netip.MustParseAddr("192.168.1.10"), Hostname: "host1",
		NodeExternalIPs: []netip.Addr{netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("2001:db8::5")}}
	got := (&nodeStatus{a: &Agent{cfg: cfg}}).addresses()
	want := []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "192.168.1.10"},
		{Type: corev1.NodeExternalIP, Address: "203.0.113.5"},
		{Type: corev1.NodeExternalIP, Address: "2001:db8::5"},
		{Type: corev1.NodeHostName, Address: "host1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("addresses %+v, want %+v", got, want)
	}
	cfg.NodeExternalIPs = nil
	got = (&nodeStatus{a: &Agent{cfg: cfg}}).addresses()
	if len(got) != 2 || got[0].Type != corev1.NodeInternalIP || got[1].Type != corev1.NodeHostName {
		t.Errorf("without external IPs: %+v", got)
	}
}

func TestNodeExternalIPValidation(t *testing.T) {
	for _, bad := range []string{"127.0.0.1", "0.0.0.0", "::", "224.0.0.1"} {
		cfg := Config{NodeName: "n1", NodeIP: netip.MustParseAddr("192.168.1.10"), NodeExternalIPs: []netip.Addr{netip.MustParseAddr(bad)}}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "node external IP "+bad) {
			t.Errorf("external IP %s: %v", bad, err)
		}
	}
}
