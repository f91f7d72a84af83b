package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/nft"
)

// testNode is a "node" namespace with a bridge, two server pods, a client
// pod on the bridge, and a proxier programming the node.
type testNode struct {
	node, a, b, client *netns.NS
	p                  *Proxier
}

func newTestNode(t *testing.T, opts ...func(*Config)) *testNode {
	netnstest.RequireRoot(t)
	netnstest.RequireTool(t, "busybox")
	n := &testNode{node: netnstest.New(t, "node")}
	netnstest.Bridge(t, n.node, "br0", "10.42.0.1/24")
	netnstest.IP(t, n.node, "route", "add", "10.43.0.0/16", "dev", "br0")
	n.a = netnstest.Pod(t, n.node, "br0", "10.42.0.2/24", "10.42.0.1")
	n.b = netnstest.Pod(t, n.node, "br0", "10.42.0.3/24", "10.42.0.1")
	n.client = netnstest.Pod(t, n.node, "br0", "10.42.0.4/24", "10.42.0.1")
	netnstest.Serve(t, n.a, "10.42.0.2", 8080, "pod-a")
	netnstest.Serve(t, n.b, "10.42.0.3", 8080, "pod-b")
	cfg := Config{Family: nft.IPv4, NetNSFd: n.node.Fd(), ClusterCIDRs: v4.ClusterCIDRs}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	n.p = p
	return n
}

func (n *testNode) sync(t *testing.T, services ...Service) {
	t.Helper()
	if err := n.p.Sync(services); err != nil {
		t.Fatal(err)
	}
}

// hits fetches target count times and counts the answers by body.
func hits(t *testing.T, from *netns.NS, target string, count int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range count {
		body, err := netnstest.Get(from, target)
		if err != nil {
			t.Fatalf("GET %s: %v: %s", target, err, body)
		}
		got[body]++
	}
	return got
}

func TestTrafficClusterIPNodePortAndUpdates(t *testing.T) {
	n := newTestNode(t)
	epA, epB := ready("10.42.0.2", 8080, true), ready("10.42.0.3", 8080, true)
	n.sync(t, web(epA, epB))
	if !n.p.LastSync().Full {
		t.Fatal("first sync was not a full sync")
	}

	got := hits(t, n.client, "10.43.0.10:80", 30)
	if got["pod-a"] == 0 || got["pod-b"] == 0 {
		t.Fatalf("ClusterIP answers not spread over both endpoints: %v", got)
	}
	// NodePort on a node address (the bridge's), from a pod and from the node.
	if got := hits(t, n.client, "10.42.0.1:30080", 10); got["pod-a"]+got["pod-b"] != 10 {
		t.Fatalf("NodePort answers: %v", got)
	}
	if got := hits(t, n.node, "10.43.0.10:80", 6); got["pod-a"]+got["pod-b"] != 6 {
		t.Fatalf("ClusterIP from the node itself: %v", got)
	}
	// Hairpin: pod A through the Service to itself only.
	n.sync(t, web(epA))
	if st := n.p.LastSync(); st.Full || st.Changed != 1 {
		t.Fatalf("endpoint change was not an incremental sync: %+v", st)
	}
	if got := hits(t, n.a, "10.43.0.10:80", 5); got["pod-a"] != 5 {
		t.Fatalf("hairpin answers: %v", got)
	}
	// Update changes one Service port and leaves the others alone.
	other := Service{Namespace: "default", Name: "other", Protocol: nft.TCP, Port: 81, ClusterIP: ip("10.43.0.11"), Endpoints: []Endpoint{epB}}
	if err := n.p.Update([]Service{other}, nil); err != nil {
		t.Fatal(err)
	}
	if got := hits(t, n.client, "10.43.0.11:81", 3); got["pod-b"] != 3 {
		t.Fatalf("service added by Update: %v", got)
	}
	if got := hits(t, n.client, "10.43.0.10:80", 3); got["pod-a"] != 3 {
		t.Fatalf("service left alone by Update: %v", got)
	}
	if err := n.p.Update(nil, []string{other.Key()}); err != nil {
		t.Fatal(err)
	}
	if _, err := netnstest.Get(n.client, "10.43.0.11:81"); err == nil {
		t.Fatal("service removed by Update still answers")
	}
	// Not-ready endpoints are not used.
	notReady := epA
	notReady.Ready = false
	n.sync(t, web(notReady, epB))
	if got := hits(t, n.client, "10.43.0.10:80", 10); got["pod-b"] != 10 {
		t.Fatalf("not-ready endpoint used: %v", got)
	}
}

func TestTrafficNoEndpointsRejectedAtOnce(t *testing.T) {
	n := newTestNode(t)
	n.sync(t, web())
	for _, target := range []string{"10.43.0.10:80", "10.42.0.1:30080"} {
		start := time.Now()
		out, err := netnstest.Get(n.client, target)
		if err == nil {
			t.Fatalf("GET %s succeeded without endpoints: %s", target, out)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("GET %s failed after %s, want an immediate refusal (%s)", target, d, out)
		}
		if !strings.Contains(strings.ToLower(out), "refused") {
			t.Fatalf("GET %s: want connection refused, got %q", target, out)
		}
	}
	// Adding an endpoint moves the Service from reject to its chain.
	n.sync(t, web(ready("10.42.0.3", 8080, true)))
	if got := hits(t, n.client, "10.43.0.10:80", 3); got["pod-b"] != 3 {
		t.Fatalf("after adding an endpoint: %v", got)
	}
}

func TestTrafficSessionAffinity(t *testing.T) {
	n := newTestNode(t)
	svc := web(ready("10.42.0.2", 8080, true), ready("10.42.0.3", 8080, true))
	svc.AffinityTimeout = 30 * time.Second
	n.sync(t, svc)
	got := hits(t, n.client, "10.43.0.10:80", 15)
	if len(got) != 1 {
		t.Fatalf("session affinity broken, answers from %v", got)
	}
}

// TestTrafficExternalPolicies sends NodePort traffic from a client outside
// the cluster (on its own link to the node, 192.0.2.0/24): with the Cluster
// policy it is masqueraded, with Local the endpoint sees the client's
// address and only local endpoints are used.
func TestTrafficExternalPolicies(t *testing.T) {
	n := newTestNode(t)
	ext := netnstest.New(t, "ext")
	netnstest.Link(t, n.node, "ext0", "192.0.2.1/24", ext, "eth0", "192.0.2.2/24")
	netnstest.IP(t, ext, "route", "add", "default", "via", "192.0.2.1")

	svc := web(ready("10.42.0.2", 8080, true))
	n.sync(t, svc)
	if got, err := netnstest.ClientAddr(ext, "192.0.2.1:30080"); err != nil || got != "10.42.0.1" {
		t.Fatalf("Cluster policy: endpoint saw %q (%v), want the node's address 10.42.0.1", got, err)
	}
	svc = web(ready("10.42.0.2", 8080, true), ready("10.42.9.9", 8080, false))
	svc.ExternalLocal = true
	n.sync(t, svc)
	// The remote endpoint is unreachable here: every answer proves it was
	// not chosen.
	for range 10 {
		if got, err := netnstest.ClientAddr(ext, "192.0.2.1:30080"); err != nil || got != "192.0.2.2" {
			t.Fatalf("Local policy: endpoint saw %q (%v), want the client's address 192.0.2.2", got, err)
		}
	}
	// Only a remote endpoint: external traffic is dropped, not rejected.
	svc.Endpoints = svc.Endpoints[1:]
	n.sync(t, svc)
	if out, err := netnstest.Get(ext, "192.0.2.1:30080"); err == nil {
		t.Fatalf("Local policy without local endpoints answered: %s", out)
	}
}

func TestResyncRepairsDriftAndCleanupRemovesTable(t *testing.T) {
	n := newTestNode(t)
	n.sync(t, web(ready("10.42.0.2", 8080, true)))
	nftIn := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"netns", "exec", netnstest.Name(n.node), "nft"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	// Someone flushes our dispatch set: traffic breaks until Resync.
	nftIn("flush", "set", "ip", "kserver-proxy", "cluster-ips")
	if err := n.p.Resync(); err != nil {
		t.Fatal(err)
	}
	if !n.p.LastSync().Full {
		t.Fatal("drift not detected")
	}
	if got := hits(t, n.client, "10.43.0.10:80", 3); got["pod-a"] != 3 {
		t.Fatalf("after resync: %v", got)
	}
	// No drift: Resync changes nothing.
	before := n.p.LastSync()
	if err := n.p.Resync(); err != nil {
		t.Fatal(err)
	}
	if n.p.LastSync() != before {
		t.Fatal("resync without drift re-synced")
	}
	// Another table in the namespace is never touched.
	nftIn("add", "table", "ip", "other")
	if err := n.p.Cleanup(); err != nil {
		t.Fatal(err)
	}
	out := nftIn("list", "tables")
	if strings.Contains(out, "kserver-proxy") || !strings.Contains(out, "table ip other") {
		t.Fatalf("after Cleanup: %s", out)
	}
	if err := n.p.Cleanup(); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
}

// TestIncrementalMatchesFull checks that a series of partial syncs, and a
// series of restarts each taking over the table left by the previous
// run, leave the kernel with the same table as one full sync of the final
// state.
func TestIncrementalMatchesFull(t *testing.T) {
	netnstest.RequireRoot(t)
	netnstest.RequireTool(t, "nft")
	steps := [][]Service{
		{web(ready("10.42.0.2", 8080, true)), sticky(2)},
		{web(ready("10.42.0.2", 8080, true), ready("10.42.0.3", 8080, true)), sticky(3)},
		{web(), sticky(1)},
		{sticky(2), web(ready("10.42.0.3", 8080, true))},
	}
	list := func(ns *netns.NS) string {
		out, err := exec.Command("ip", "netns", "exec", netnstest.Name(ns), "nft", "list", "table", "ip", "kserver-proxy").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v: %s", err, out)
		}
		return normalizeAnon(string(out))
	}
	inc, full, adopt := netnstest.New(t, "inc"), netnstest.New(t, "full"), netnstest.New(t, "adopt")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pi, _ := New(Config{NetNSFd: inc.Fd(), ClusterCIDRs: v4.ClusterCIDRs}, log)
	defer pi.Close()
	for i, s := range steps {
		if err := pi.Sync(s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i > 0 && pi.LastSync().Full {
			t.Fatalf("step %d fell back to a full sync", i)
		}
		pf, _ := New(Config{NetNSFd: full.Fd(), ClusterCIDRs: v4.ClusterCIDRs}, log)
		if err := pf.Cleanup(); err != nil {
			t.Fatal(err)
		}
		if err := pf.Sync(s); err != nil {
			t.Fatal(err)
		}
		_ = pf.Close()
		pa, _ := New(Config{NetNSFd: adopt.Fd(), ClusterCIDRs: v4.ClusterCIDRs}, log)
		if err := pa.Sync(s); err != nil {
			t.Fatal(err)
		}
		if i > 0 && !pa.LastSync().Adopted {
			t.Fatalf("step %d: the restarted proxier did not take over the table: %+v", i, pa.LastSync())
		}
		_ = pa.Close()
		if a, b := list(inc), list(full); a != b {
			t.Fatalf("step %d: incremental and full tables differ:\n%s", i, lineDiff(b, a))
		}
		if a, b := list(adopt), list(full); a != b {
			t.Fatalf("step %d: adopted and full tables differ:\n%s", i, lineDiff(b, a))
		}
	}
}

func sticky(n int) Service {
	s := Service{Namespace: "default", Name: "sticky", Protocol: nft.UDP, Port: 53, ClusterIP: ip("10.43.0.53"), AffinityTimeout: time.Minute}
	for i := range n {
		s.Endpoints = append(s.Endpoints, ready(fmt.Sprintf("10.42.0.%d", 20+i), 53, true))
	}
	return s
}

// normalizeAnon reduces an `nft list table` to a sorted list of
// "block: line" entries, one per map element, so that tables built in a
// different order compare equal; handles of anonymous maps are hidden.
func normalizeAnon(s string) string {
	var out []string
	block := ""
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), ","))
		if j := strings.Index(l, "__map"); j >= 0 {
			l = l[:j]
		}
		switch {
		case l == "" || l == "}":
			continue
		case strings.HasPrefix(l, "chain ") || strings.HasPrefix(l, "map ") || strings.HasPrefix(l, "set "):
			block = l
			continue
		}
		l = strings.TrimPrefix(strings.TrimSuffix(l, " }"), "elements = { ")
		for _, item := range strings.Split(l, ", ") {
			out = append(out, block+": "+strings.TrimSpace(item))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestTrafficIPv6 runs a ClusterIP, a NodePort and the no-endpoint reject
// through the ip6 table.
func TestTrafficIPv6(t *testing.T) {
	netnstest.RequireRoot(t)
	netnstest.RequireTool(t, "busybox")
	node := netnstest.New(t, "node6")
	netnstest.Bridge(t, node, "br0", "fd42::1/64")
	netnstest.IP(t, node, "-6", "route", "add", "fd43::/112", "dev", "br0")
	a := netnstest.Pod(t, node, "br0", "fd42::2/64", "")
	client := netnstest.Pod(t, node, "br0", "fd42::4/64", "")
	for _, p := range []*netns.NS{a, client} {
		netnstest.IP(t, p, "-6", "route", "add", "default", "via", "fd42::1")
	}
	// Wait for duplicate address detection to finish everywhere.
	netnstest.Eventually(t, 10*time.Second, func() error {
		for _, ns := range []*netns.NS{node, a, client} {
			out, _ := netnstest.Exec(ns, time.Second, "ip", "-6", "addr", "show", "tentative")
			if strings.Contains(out, "fd42::") {
				return fmt.Errorf("address still tentative: %s", out)
			}
		}
		return nil
	})
	netnstest.Serve(t, a, "fd42::2", 8080, "pod-a6")
	p, err := New(Config{Family: nft.IPv6, NetNSFd: node.Fd(), ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("fd42::/64")}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	svc := Service{Namespace: "default", Name: "web6", Protocol: nft.TCP, Port: 80, ClusterIP: ip("fd43::10"), NodePort: 30080,
		Endpoints: []Endpoint{ready("fd42::2", 8080, true)}}
	empty := Service{Namespace: "default", Name: "empty6", Protocol: nft.TCP, Port: 80, ClusterIP: ip("fd43::20")}
	if err := p.Sync([]Service{svc, empty}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"[fd43::10]:80", "[fd42::1]:30080"} {
		if got := hits(t, client, target, 3); got["pod-a6"] != 3 {
			t.Fatalf("GET %s: %v", target, got)
		}
	}
	start := time.Now()
	if out, err := netnstest.Get(client, "[fd43::20]:80"); err == nil || time.Since(start) > time.Second {
		t.Fatalf("no-endpoint IPv6 Service: %v after %s: %s", err, time.Since(start), out)
	}
}

// TestRestartAdoptsTable checks that a new proxier (kserver restarted)
// takes over the table it finds when the layout is its own, sending only
// what differs, and re-creates it otherwise.
func TestRestartAdoptsTable(t *testing.T) {
	n := newTestNode(t)
	epA, epB := ready("10.42.0.2", 8080, true), ready("10.42.0.3", 8080, true)
	n.sync(t, web(epA, epB), sticky(2))
	restart := func(services ...Service) SyncStats {
		t.Helper()
		_ = n.p.Close()
		p, err := New(Config{Family: nft.IPv4, NetNSFd: n.node.Fd(), ClusterCIDRs: v4.ClusterCIDRs}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		n.p = p
		n.sync(t, services...)
		return p.LastSync()
	}
	// Nothing changed: the table's fingerprint says so, nothing is sent.
	if st := restart(web(epA, epB), sticky(2)); !st.Adopted || st.Ops != 0 {
		t.Fatalf("restart with nothing changed: %+v, want the table adopted without changes", st)
	}
	// Changed while kserver was down: an endpoint and a Service gone.
	if st := restart(web(epA)); !st.Adopted || st.Ops == 0 {
		t.Fatalf("restart with changes: %+v, want the table adopted with changes", st)
	}
	if got := hits(t, n.client, "10.43.0.10:80", 5); got["pod-a"] != 5 {
		t.Fatalf("after adopting with changes: %v", got)
	}
	nftIn := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"netns", "exec", netnstest.Name(n.node), "nft"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v: %s", args, err, out)
		}
	}
	// An element deleted behind our back: the restart trusts the
	// fingerprint, the next Resync finds the damage and rebuilds.
	nftIn("delete", "element", "ip", "kserver-proxy", "cluster-ips", "{ 10.43.0.10 . tcp . 80 }")
	if st := restart(web(epA)); !st.Adopted || st.Ops != 0 {
		t.Fatalf("restart after an element was deleted: %+v, want the table adopted", st)
	}
	if err := n.p.Resync(); err != nil || !n.p.LastSync().Full || n.p.LastSync().Adopted {
		t.Fatalf("Resync after an element was deleted: %v, %+v", err, n.p.LastSync())
	}
	if got := hits(t, n.client, "10.43.0.10:80", 3); got["pod-a"] != 3 {
		t.Fatalf("after the rebuild: %v", got)
	}
	// Changes and damage together: the elements are read and repaired.
	nftIn("delete", "element", "ip", "kserver-proxy", "cluster-ips", "{ 10.43.0.10 . tcp . 80 }")
	if st := restart(web(epA, epB)); !st.Adopted || st.Ops == 0 {
		t.Fatalf("restart with changes after an element was deleted: %+v", st)
	}
	if got := hits(t, n.client, "10.43.0.10:80", 20); got["pod-a"] == 0 || got["pod-b"] == 0 {
		t.Fatalf("after adopting a damaged table with changes: %v", got)
	}
	// A rule deleted behind our back: the table is re-created.
	nftIn("flush", "chain", "ip", "kserver-proxy", "cluster")
	if st := restart(web(epA)); st.Adopted || !st.Full {
		t.Fatalf("restart after a chain was flushed: %+v, want the table re-created", st)
	}
	if got := hits(t, n.client, "10.43.0.10:80", 3); got["pod-a"] != 3 {
		t.Fatalf("after re-creating: %v", got)
	}
}
