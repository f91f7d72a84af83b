package cni

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/netns/netnstest"
)

func requirePlugins(t testing.TB) {
	t.Helper()
	netnstest.RequireRoot(t)
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Skipf("CNI plugin %s missing (scripts/setup.sh installs containernetworking-plugins)", p)
		}
	}
	netnstest.RequireTool(t, "iptables") // portmap
}

func newNetwork(t testing.TB, node *netns.NS, dataDir string) *Network {
	t.Helper()
	n, err := New(Config{PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24")}, MTU: 1450, DataDir: dataDir, NetNSFd: node.Fd()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func attachment(pod *netns.NS, id string, ports ...PortMapping) Attachment {
	return Attachment{ContainerID: id, NetNS: pod.Path(), PodNamespace: "default", PodName: "web-" + id, PodUID: "uid-" + id, PortMappings: ports}
}

func TestAddDelPodOnBridge(t *testing.T) {
	requirePlugins(t)
	netnstest.RequireTool(t, "busybox")
	node, pod := netnstest.New(t, "node"), netnstest.New(t, "pod")
	dataDir := t.TempDir()
	n := newNetwork(t, node, dataDir)
	ctx := context.Background()
	a := attachment(pod, "sandbox1", PortMapping{HostPort: 18080, ContainerPort: 80, Protocol: "TCP"})

	start := time.Now()
	res, err := n.Add(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ADD took %s", time.Since(start))
	ip := res.IP()
	if !netip.MustParsePrefix("10.42.0.0/24").Contains(ip) || ip == netip.MustParseAddr("10.42.0.1") {
		t.Fatalf("pod IP %s not a pod address of 10.42.0.0/24", ip)
	}
	if len(res.Gateway) == 0 || res.Gateway[0] != netip.MustParseAddr("10.42.0.1") {
		t.Fatalf("gateway %v", res.Gateway)
	}
	// The bridge is in the node namespace, not in the root namespace.
	if _, err := os.Stat("/sys/class/net/cni0"); err == nil {
		t.Fatal("cni0 appeared in the root namespace")
	}
	if out, err := netnstest.Exec(node, 5*time.Second, "ip", "-o", "link", "show", "cni0"); err != nil || !strings.Contains(out, "mtu 1450") {
		t.Fatalf("cni0 in the node: %v %s", err, out)
	}
	if out, err := netnstest.Exec(pod, 5*time.Second, "ip", "-o", "link", "show", "lo"); err != nil || !strings.Contains(out, "UP") {
		t.Fatalf("loopback in the pod not up: %v %s", err, out)
	}
	if out, err := netnstest.Exec(pod, 5*time.Second, "busybox", "ping", "-c", "1", "-W", "2", "10.42.0.1"); err != nil {
		t.Fatalf("pod → gateway: %v %s", err, out)
	}
	netnstest.Serve(t, pod, ip.String(), 80, "pod")
	for _, target := range []string{ip.String() + ":80", "10.42.0.1:18080", "127.0.0.1:18080"} {
		if got, err := netnstest.Get(node, target); err != nil || got != "pod" {
			t.Fatalf("GET %s from the node: %q %v", target, got, err)
		}
	}

	start = time.Now()
	if err := n.Del(ctx, a); err != nil {
		t.Fatal(err)
	}
	t.Logf("DEL took %s", time.Since(start))
	if out, err := netnstest.Exec(pod, 5*time.Second, "ip", "link", "show", "eth0"); err == nil {
		t.Fatalf("eth0 still in the pod after DEL: %s", out)
	}
	if ipFile := filepath.Join(dataDir, "cni", "networks", "kserver", ip.String()); fileExists(ipFile) {
		t.Fatal("IP still reserved after DEL")
	}
	if _, err := netnstest.Get(node, "10.42.0.1:18080"); err == nil {
		t.Fatal("hostPort still answers after DEL")
	}
	// DEL again, and DEL of a sandbox whose namespace is gone, succeed.
	if err := n.Del(ctx, a); err != nil {
		t.Fatalf("second DEL: %v", err)
	}
	gone := a
	gone.NetNS = "/run/netns/does-not-exist"
	if err := n.Del(ctx, gone); err != nil {
		t.Fatalf("DEL without namespace: %v", err)
	}
}

func TestLeftoversAfterCrash(t *testing.T) {
	requirePlugins(t)
	node := netnstest.New(t, "node")
	dataDir := t.TempDir()
	ctx := context.Background()
	first := newNetwork(t, node, dataDir)
	podA, podB := netnstest.New(t, "pod"), netnstest.New(t, "pod")
	resA, err := first.Add(ctx, attachment(podA, "sandboxA"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Add(ctx, attachment(podB, "sandboxB")); err != nil {
		t.Fatal(err)
	}
	// "Crash": a new Network on the same data dir; sandbox A's namespace
	// vanished meanwhile, B is still running.
	if err := podA.Close(); err != nil {
		t.Fatal(err)
	}
	if err := netns.Remove(netns.DefaultDir, netnstest.Name(podA)); err != nil {
		t.Fatal(err)
	}
	restarted := newNetwork(t, node, dataDir)
	atts, err := restarted.Attachments()
	if err != nil || len(atts) != 2 || atts[0].PodName == "" {
		t.Fatalf("cached attachments: %+v %v", atts, err)
	}
	removed, err := restarted.Cleanup(ctx, map[string]bool{"sandboxB": true})
	if err != nil || len(removed) != 1 || removed[0] != "sandboxA" {
		t.Fatalf("Cleanup removed %v: %v", removed, err)
	}
	if fileExists(filepath.Join(dataDir, "cni", "networks", "kserver", resA.IP().String())) {
		t.Fatal("IP of the leftover sandbox still reserved")
	}
	if atts, _ := restarted.Attachments(); len(atts) != 1 || atts[0].ContainerID != "sandboxB" {
		t.Fatalf("attachments after Cleanup: %+v", atts)
	}
	if atts, err := restarted.AttachmentsOf("sandboxB"); err != nil || len(atts) != 1 || atts[0].PodName != "web-sandboxB" {
		t.Fatalf("AttachmentsOf(sandboxB) = %+v, %v", atts, err)
	}
	if atts, err := restarted.AttachmentsOf("sandboxA"); err != nil || len(atts) != 0 {
		t.Fatalf("AttachmentsOf(sandboxA) after its Cleanup = %+v, %v", atts, err)
	}
}

// A sandbox whose loopback is already up (the runtime made its namespace)
// and that has no hostPorts is attached without the loopback and portmap
// plugins — libcni's cache shows what ran — and detached the same way.
func TestAddRunsOnlyNeededPlugins(t *testing.T) {
	requirePlugins(t)
	node, pod := netnstest.New(t, "node"), netnstest.New(t, "pod")
	netnstest.IP(t, pod, "link", "set", "lo", "up")
	dataDir := t.TempDir()
	n := newNetwork(t, node, dataDir)
	ctx := context.Background()
	a := attachment(pod, "sandbox1")
	res, err := n.Add(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dataDir, "cni", "cache", "results")
	entries, _ := os.ReadDir(results)
	if len(entries) != 1 || entries[0].Name() != "kserver-sandbox1-eth0" {
		t.Fatalf("cache after ADD: %v, want only the pod network's entry", entries)
	}
	b, err := os.ReadFile(filepath.Join(results, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var cached struct{ Config []byte }
	if err := json.Unmarshal(b, &cached); err != nil || strings.Contains(string(cached.Config), "portmap") ||
		!strings.Contains(string(cached.Config), "bridge") {
		t.Fatalf("cached config: %v %s", err, cached.Config)
	}
	if err := n.Del(ctx, a); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(results); len(entries) != 0 {
		t.Fatalf("cache after DEL: %v", entries)
	}
	if fileExists(filepath.Join(dataDir, "cni", "networks", "kserver", res.IP().String())) {
		t.Fatal("IP still reserved after DEL")
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// BenchmarkAddDel measures one ADD and one DEL of a sandbox (plugins
// exec'd by libcni) in a node namespace.
func BenchmarkAddDel(b *testing.B) {
	requirePlugins(b)
	node, pod := netnstest.New(b, "node"), netnstest.New(b, "pod")
	n := newNetwork(b, node, b.TempDir())
	ctx := context.Background()
	var add, del time.Duration
	for b.Loop() {
		a := attachment(pod, "bench", PortMapping{HostPort: 18081, ContainerPort: 80, Protocol: "tcp"})
		t0 := time.Now()
		if _, err := n.Add(ctx, a); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := n.Del(ctx, a); err != nil {
			b.Fatal(err)
		}
		add, del = add+t1.Sub(t0), del+time.Since(t1)
	}
	b.ReportMetric(float64(add.Microseconds())/float64(b.N)/1000, "add-ms/op")
	b.ReportMetric(float64(del.Microseconds())/float64(b.N)/1000, "del-ms/op")
}
