package overlay

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/netns/netnstest"
)

// testNode is a "node" namespace with its underlay address, a cni0 bridge
// for its podCIDR and one pod.
type testNode struct {
	ns, pod *netns.NS
	ip      netip.Addr
	cidr    netip.Prefix
	podIP   string
	o       *Overlay
	local   Local
}

var clusterCIDR = netip.MustParsePrefix("10.42.0.0/16")

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// twoNodes joins two node namespaces by an underlay veth pair and gives
// each a bridge and a pod whose MTU leaves room for the encapsulation.
func twoNodes(t *testing.T, backend Backend) (*testNode, *testNode) {
	netnstest.RequireRoot(t)
	netnstest.RequireTool(t, "busybox")
	a := &testNode{ns: netnstest.New(t, "nodea"), ip: netip.MustParseAddr("192.168.250.1"), cidr: netip.MustParsePrefix("10.42.0.0/24"), podIP: "10.42.0.2"}
	b := &testNode{ns: netnstest.New(t, "nodeb"), ip: netip.MustParseAddr("192.168.250.2"), cidr: netip.MustParsePrefix("10.42.1.0/24"), podIP: "10.42.1.2"}
	netnstest.Link(t, a.ns, "ul0", "192.168.250.1/24", b.ns, "ul0", "192.168.250.2/24")
	for _, n := range []*testNode{a, b} {
		gw := n.cidr.Addr().Next()
		netnstest.Bridge(t, n.ns, "cni0", netip.PrefixFrom(gw, 24).String())
		n.pod = netnstest.Pod(t, n.ns, "cni0", n.podIP+"/24", gw.String())
		netnstest.IP(t, n.pod, "link", "set", "eth0", "mtu", "1450")
		n.o = newOverlay(t, n, backend, nil)
	}
	return a, b
}

func newOverlay(t *testing.T, n *testNode, backend Backend, mac net.HardwareAddr) *Overlay {
	t.Helper()
	o, err := New(Config{Backend: backend, NodeIP: n.ip, PodCIDR: n.cidr, ClusterCIDR: clusterCIDR, VtepMAC: mac, NetNSFd: n.ns.Fd()}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func setup(t *testing.T, nodes ...*testNode) []Peer {
	t.Helper()
	var peers []Peer
	for _, n := range nodes {
		l, err := n.o.Setup()
		if err != nil {
			t.Fatal(err)
		}
		n.local = l
		peers = append(peers, Peer{Name: n.ip.String(), PodCIDR: n.cidr, PublicIP: n.ip, VtepMAC: l.VtepMAC})
	}
	for _, n := range nodes {
		if err := n.o.SetPeers(peers); err != nil {
			t.Fatal(err)
		}
	}
	return peers
}

func ping(from *netns.NS, to string, size int) error {
	out, err := netnstest.Exec(from, 5*time.Second, "busybox", "ping", "-c", "1", "-W", "2", "-s", itoa(size), to)
	if err != nil {
		return &pingError{out}
	}
	return nil
}

type pingError struct{ out string }

func (e *pingError) Error() string { return "ping failed: " + e.out }

func itoa(i int) string { return strconv.Itoa(i) }

// lines runs a command in a node and returns its non-empty output lines.
func lines(t *testing.T, ns *netns.NS, args ...string) []string {
	t.Helper()
	out, err := exec.Command(args[0], append([]string{"-n", netnstest.Name(ns)}, args[1:]...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	var ls []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

// entries returns node n's routes, ARP and FDB entries on the device.
func entries(t *testing.T, n *testNode) (routes, arps, fdbs []string) {
	routes = lines(t, n.ns, "ip", "route", "show", "dev", "flannel.1")
	arps = lines(t, n.ns, "ip", "neigh", "show", "dev", "flannel.1")
	for _, l := range lines(t, n.ns, "bridge", "fdb", "show", "dev", "flannel.1") {
		if strings.Contains(l, " dst ") {
			fdbs = append(fdbs, l)
		}
	}
	return routes, arps, fdbs
}

func TestVXLANPodToPod(t *testing.T) {
	a, b := twoNodes(t, VXLAN)
	setup(t, a, b)
	if a.local.MTU != 1450 {
		t.Fatalf("device MTU %d, want 1500-50", a.local.MTU)
	}
	for _, size := range []int{56, 1400} {
		if err := ping(a.pod, b.podIP, size); err != nil {
			t.Fatalf("%d-byte ping pod A → pod B: %v", size, err)
		}
		if err := ping(b.pod, a.podIP, size); err != nil {
			t.Fatalf("%d-byte ping pod B → pod A: %v", size, err)
		}
	}
	netnstest.Serve(t, b.pod, b.podIP, 8080, "pod-b")
	if got, err := netnstest.Get(a.pod, b.podIP+":8080"); err != nil || got != "pod-b" {
		t.Fatalf("HTTP across the overlay: %q %v", got, err)
	}
	// Pod to pod keeps the source; pod to outside the pod network is
	// masqueraded to the node's address.
	if got, err := netnstest.ClientAddr(a.pod, b.podIP+":8080"); err != nil || got != a.podIP {
		t.Fatalf("pod-to-pod source seen as %q (%v), want %s", got, err, a.podIP)
	}
	netnstest.Serve(t, b.ns, "192.168.250.2", 8081, "node-b")
	if got, err := netnstest.ClientAddr(a.pod, "192.168.250.2:8081"); err != nil || got != "192.168.250.1" {
		t.Fatalf("egress source seen as %q (%v), want the node address 192.168.250.1", got, err)
	}
	// Exactly one route, one ARP and one FDB entry for the one peer.
	routes, arps, fdbs := entries(t, a)
	if len(routes) != 1 || len(arps) != 1 || len(fdbs) != 1 {
		t.Fatalf("node A entries: routes %q arps %q fdbs %q", routes, arps, fdbs)
	}
	if !strings.Contains(routes[0], "10.42.1.0/24 via 10.42.1.0") || !strings.Contains(arps[0], b.local.VtepMAC.String()) ||
		!strings.Contains(fdbs[0], "dst 192.168.250.2") || !strings.Contains(arps[0], "PERMANENT") {
		t.Fatalf("node A entries: routes %q arps %q fdbs %q", routes, arps, fdbs)
	}
	// Someone deletes the device: Resync brings it and the entries back
	// with the same MAC.
	netnstest.IP(t, a.ns, "link", "del", "flannel.1")
	if err := a.o.Resync(); err != nil {
		t.Fatal(err)
	}
	if err := ping(a.pod, b.podIP, 56); err != nil {
		t.Fatalf("after Resync of a deleted device: %v", err)
	}
}

func TestVXLANPeerRemovalAndRestart(t *testing.T) {
	a, b := twoNodes(t, VXLAN)
	peers := setup(t, a, b)

	// Peer B removed on A: its entries go, traffic stops.
	if err := a.o.SetPeers(peers[:1]); err != nil {
		t.Fatal(err)
	}
	if r, n, f := entries(t, a); len(r)+len(n)+len(f) != 0 {
		t.Fatalf("entries left after removing the peer: %q %q %q", r, n, f)
	}
	if err := ping(a.pod, b.podIP, 56); err == nil {
		t.Fatal("ping still works after the peer was removed")
	}
	if err := a.o.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	if err := ping(a.pod, b.podIP, 56); err != nil {
		t.Fatalf("after re-adding the peer: %v", err)
	}

	// A restart of kserver on A without the stored MAC: the device is
	// reused as it is (same index, same MAC, entries untouched).
	dev := lines(t, a.ns, "ip", "-o", "link", "show", "flannel.1")[0]
	restarted := newOverlay(t, a, VXLAN, nil)
	l, err := restarted.Setup()
	if err != nil {
		t.Fatal(err)
	}
	if l.VtepMAC.String() != a.local.VtepMAC.String() {
		t.Fatalf("VTEP MAC changed on restart: %s → %s", a.local.VtepMAC, l.VtepMAC)
	}
	if got := lines(t, a.ns, "ip", "-o", "link", "show", "flannel.1")[0]; strings.Fields(got)[0] != strings.Fields(dev)[0] {
		t.Fatalf("device re-created: %q → %q", dev, got)
	}
	if err := ping(a.pod, b.podIP, 56); err != nil {
		t.Fatalf("traffic after restart, before SetPeers: %v", err)
	}
	if err := restarted.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	if r, n, f := entries(t, a); len(r) != 1 || len(n) != 1 || len(f) != 1 {
		t.Fatalf("entries after restart: %q %q %q", r, n, f)
	}

	// A peer's changed VTEP MAC (B re-created) replaces its entries.
	newMACB := newMAC()
	restartedB := newOverlay(t, b, VXLAN, newMACB)
	if _, err := restartedB.Setup(); err != nil {
		t.Fatal(err)
	}
	peers[1].VtepMAC = newMACB
	// A MAC change makes the kernel flush B's own neighbour entries: the
	// agent always follows Setup with SetPeers.
	for _, o := range []*Overlay{restarted, restartedB} {
		if err := o.SetPeers(peers); err != nil {
			t.Fatal(err)
		}
	}
	if _, n, f := entries(t, a); len(n) != 1 || len(f) != 1 || !strings.Contains(n[0], newMACB.String()) || !strings.Contains(f[0], newMACB.String()) {
		t.Fatalf("entries after the peer's MAC changed: %q %q", n, f)
	}
	if err := ping(a.pod, b.podIP, 56); err != nil {
		t.Fatalf("traffic after the peer's MAC changed: %v", err)
	}

	// Teardown removes the device and our table.
	if err := restarted.Teardown(); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Command("ip", "-n", netnstest.Name(a.ns), "link", "show", "flannel.1").CombinedOutput(); err == nil {
		t.Fatal("device left after Teardown")
	}
	if out, _ := netnstest.Exec(a.ns, 5*time.Second, "nft", "list", "tables"); strings.Contains(out, "kserver-overlay") {
		t.Fatalf("table left after Teardown: %s", out)
	}
	if err := restarted.Teardown(); err != nil {
		t.Fatalf("second Teardown: %v", err)
	}
}

func TestHostGW(t *testing.T) {
	a, b := twoNodes(t, HostGW)
	peers := setup(t, a, b)
	if a.local.MTU != 1500 {
		t.Fatalf("host-gw MTU %d, want the uplink's 1500", a.local.MTU)
	}
	if err := ping(a.pod, b.podIP, 1400); err != nil {
		t.Fatal(err)
	}
	routes := lines(t, a.ns, "ip", "route", "show", "10.42.1.0/24")
	if len(routes) != 1 || !strings.Contains(routes[0], "via 192.168.250.2") {
		t.Fatalf("host-gw route: %q", routes)
	}
	if err := a.o.SetPeers(peers[:1]); err != nil {
		t.Fatal(err)
	}
	if routes := lines(t, a.ns, "ip", "route", "show", "10.42.1.0/24"); len(routes) != 0 {
		t.Fatalf("route left after removing the peer: %q", routes)
	}
}

func TestChecksumOffloadOff(t *testing.T) {
	netnstest.RequireRoot(t)
	n := &testNode{ns: netnstest.New(t, "node"), ip: netip.MustParseAddr("192.168.250.1"), cidr: netip.MustParsePrefix("10.42.0.0/24")}
	other := netnstest.New(t, "peer")
	netnstest.Link(t, n.ns, "ul0", "192.168.250.1/24", other, "ul0", "192.168.250.2/24")
	setupWith := func(mode ChecksumOffload) (on bool, index int) {
		t.Helper()
		o, err := New(Config{NodeIP: n.ip, PodCIDR: n.cidr, ClusterCIDR: clusterCIDR, ChecksumOffload: mode, NetNSFd: n.ns.Fd()}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if _, err := o.Setup(); err != nil {
			t.Fatal(err)
		}
		err = inNetNS(n.ns.Fd(), func() error {
			l, err := netlink.LinkByName("flannel.1")
			if err != nil {
				return err
			}
			index = l.Attrs().Index
			on, err = txChecksum("flannel.1")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return on, index
	}
	on, first := setupWith("off")
	if on {
		t.Fatal("TX checksum offload still on")
	}
	if _, err := netlink.LinkByName("flannel.1"); err == nil {
		t.Fatal("the root namespace has a flannel.1")
	}
	// A restart with offload wanted keeps the device and switches it back
	// on: a kept device must not stay on the slow path.
	on, second := setupWith("on")
	if second != first {
		t.Fatalf("device re-created (index %d, then %d): the restart must keep it", first, second)
	}
	if !on {
		t.Fatal(`TX checksum offload still off after a restart with "on"`)
	}
	if kernelBefore(5, 7) {
		return
	}
	setupWith("off")
	if on, _ := setupWith("auto"); !on {
		t.Fatal(`TX checksum offload off with "auto" on a kernel from 5.7 on`)
	}
}
