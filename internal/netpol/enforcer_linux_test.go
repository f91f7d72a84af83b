package netpol

import (
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/nft"
)

func reachable(from *netns.NS, target string) bool {
	out, err := netnstest.Exec(from, 1500*time.Millisecond, "busybox", "wget", "-q", "-O", "-", "http://"+target+"/")
	return err == nil && strings.TrimSpace(out) != ""
}

func TestEnforcement(t *testing.T) {
	netnstest.RequireRoot(t)
	netnstest.RequireTool(t, "busybox")
	node := netnstest.New(t, "node")
	netnstest.Bridge(t, node, "br0", "10.42.0.1/24")
	server := netnstest.Pod(t, node, "br0", "10.42.0.2/24", "10.42.0.1")
	friend := netnstest.Pod(t, node, "br0", "10.42.0.3/24", "10.42.0.1")
	stranger := netnstest.Pod(t, node, "br0", "10.42.0.4/24", "10.42.0.1")
	netnstest.Serve(t, server, "10.42.0.2", 8080, "web")
	netnstest.Serve(t, server, "10.42.0.2", 9090, "admin")
	netnstest.Serve(t, stranger, "10.42.0.4", 8080, "stranger")

	e, err := New(Config{Family: nft.IPv4, NetNSFd: node.Fd()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	check := func(step string, from *netns.NS, target string, want bool) {
		t.Helper()
		if got := reachable(from, target); got != want {
			t.Errorf("%s: %s reachable = %v, want %v", step, target, got, want)
		}
	}
	sync := func(ps ...Policy) {
		t.Helper()
		if err := e.Sync(ps); err != nil {
			t.Fatal(err)
		}
	}
	serverPods := []netip.Addr{ip("10.42.0.2")}

	sync()
	check("no policy", stranger, "10.42.0.2:8080", true)

	// Ingress from one pod (a podSelector resolved to its address) on one port.
	sync(Policy{Namespace: "shop", Name: "web", Pods: serverPods, Ingress: true, IngressRules: []Rule{
		{Peers: []Peer{{IPs: []netip.Addr{ip("10.42.0.3")}}}, Ports: []Port{{Protocol: nft.TCP, Port: 8080}}}}})
	check("pod selector", friend, "10.42.0.2:8080", true)
	check("pod selector, other port", friend, "10.42.0.2:9090", false)
	check("pod selector, other pod", stranger, "10.42.0.2:8080", false)

	// ipBlock with except and a port range.
	sync(Policy{Namespace: "shop", Name: "web", Pods: serverPods, Ingress: true, IngressRules: []Rule{
		{Peers: []Peer{{CIDR: pfx("10.42.0.0/24"), Except: []netip.Prefix{pfx("10.42.0.4/32")}}}, Ports: []Port{{Protocol: nft.TCP, Port: 8000, EndPort: 9999}}}}})
	check("ipBlock", friend, "10.42.0.2:9090", true)
	check("ipBlock except", stranger, "10.42.0.2:8080", false)

	// Default-deny egress for the stranger: it cannot open connections,
	// but connections to it (and their replies) still work.
	sync(Policy{Namespace: "shop", Name: "deny-egress", Pods: []netip.Addr{ip("10.42.0.4")}, Egress: true})
	check("default-deny egress", stranger, "10.42.0.2:8080", false)
	check("reply to a denied-egress pod", server, "10.42.0.4:8080", true)

	// Default-deny ingress for the server plus an allow-all policy: policies add up.
	sync(Policy{Namespace: "shop", Name: "deny", Pods: serverPods, Ingress: true},
		Policy{Namespace: "shop", Name: "allow-all", Pods: serverPods, Ingress: true, IngressRules: []Rule{{}}})
	check("union of policies", stranger, "10.42.0.2:9090", true)
	sync(Policy{Namespace: "shop", Name: "deny", Pods: serverPods, Ingress: true})
	check("default-deny ingress", friend, "10.42.0.2:8080", false)
	// The node itself (probes, node-local DNS) is never filtered.
	check("node to isolated pod", node, "10.42.0.2:8080", true)

	if err := e.Cleanup(); err != nil {
		t.Fatal(err)
	}
	check("after cleanup", friend, "10.42.0.2:8080", true)
}
