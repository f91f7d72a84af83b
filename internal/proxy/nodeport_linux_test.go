package proxy

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/nft"
)

// A node external IP that is on no interface of the node (1:1 NAT) still
// serves NodePorts: from a pod on the node, from the node itself, and
// from outside when the address is routed to the node; a NodePort without
// endpoints is refused at once there too.
func TestTrafficNodePortOnExternalAddress(t *testing.T) {
	n := newTestNode(t, func(c *Config) { c.NodePortAddresses = []netip.Addr{ip("203.0.113.5")} })
	ext := netnstest.New(t, "ext")
	netnstest.Link(t, n.node, "ext0", "192.0.2.1/24", ext, "eth0", "192.0.2.2/24")
	netnstest.IP(t, ext, "route", "add", "203.0.113.5/32", "via", "192.0.2.1")
	netnstest.IP(t, ext, "route", "add", "10.42.0.0/16", "via", "192.0.2.1")
	// The node has a route for the address (its uplink's), not the address.
	netnstest.IP(t, n.node, "route", "add", "203.0.113.0/24", "via", "192.0.2.2")

	n.sync(t, web(ready("10.42.0.2", 8080, true), ready("10.42.0.3", 8080, true)),
		Service{Namespace: "default", Name: "empty", Protocol: nft.TCP, Port: 80, ClusterIP: ip("10.43.0.20"), NodePort: 30020})
	for name, from := range map[string]func() (string, error){
		"pod":     func() (string, error) { return netnstest.Get(n.client, "203.0.113.5:30080") },
		"node":    func() (string, error) { return netnstest.Get(n.node, "203.0.113.5:30080") },
		"outside": func() (string, error) { return netnstest.Get(ext, "203.0.113.5:30080") },
	} {
		for range 4 {
			body, err := from()
			if err != nil || (body != "pod-a" && body != "pod-b") {
				t.Fatalf("from %s to the external address's NodePort: %q, %v", name, body, err)
			}
		}
	}
	start := time.Now()
	out, err := netnstest.Get(n.client, "203.0.113.5:30020")
	if err == nil || !strings.Contains(strings.ToLower(out), "refused") || time.Since(start) > time.Second {
		t.Fatalf("NodePort without endpoints on the external address: %q, %v after %s; want refused at once", out, err, time.Since(start))
	}
	// Another address the node merely routes is not a NodePort address:
	// the connection goes on to its owner, where nothing listens.
	netnstest.IP(t, ext, "addr", "add", "203.0.113.6/32", "dev", "lo")
	if out, err := netnstest.Get(n.client, "203.0.113.6:30080"); err == nil || !strings.Contains(strings.ToLower(out), "refused") {
		t.Fatalf("a routed address that is not the node's: %q, %v; want its owner's refusal", out, err)
	}
}
