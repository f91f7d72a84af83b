package nodenet_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/nodenet"
	"kserver.dev/kserver/internal/overlay"
)

// The wiring against an in-process API server (no agent, no
// controllers: the test writes Nodes, Services, EndpointSlices, Pods and
// NetworkPolicies itself) programming a node namespace the test made.
// Root only.

// startWiring runs nodenet for node "me" (192.168.50.2 on a veth uplink)
// until the returned stop or the end of the test.
func startWiring(t *testing.T, set *client.Set, ns *netns.NS, mutate func(*nodenet.Config)) func() {
	t.Helper()
	cfg := nodenet.Config{NodeName: "me", NodeIP: netip.MustParseAddr("192.168.50.2"), Backend: overlay.VXLAN,
		ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16"), NetNS: ns.Path(), ResyncPeriod: time.Minute,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if mutate != nil {
		mutate(&cfg)
	}
	nw, err := nodenet.New(cfg, set, client.NewInformers(set, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nw.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return stop
}

func kernel(t *testing.T, ns *netns.NS, args ...string) string {
	t.Helper()
	out, err := netnstest.Exec(ns, 10*time.Second, args...)
	if err != nil {
		return "error: " + err.Error() + ": " + out
	}
	return out
}

// eventually waits until the command's output contains (or, with
// absent, lacks) every string.
func eventually(t *testing.T, ns *netns.NS, want []string, absent bool, args ...string) {
	t.Helper()
	netnstest.Eventually(t, 20*time.Second, func() error {
		out := kernel(t, ns, args...)
		for _, w := range want {
			if strings.Contains(out, w) == absent {
				return fmt.Errorf("%s: %q present=%v in:\n%s\ntables: %s", strings.Join(args, " "), w, absent, out, kernel(t, ns, "nft", "list", "tables"))
			}
		}
		return nil
	})
}

func mkNode(name, cidr string, ann map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}, Spec: corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}}}
}

func TestWiring(t *testing.T) {
	netnstest.RequireRoot(t)
	netnstest.RequireTool(t, "nft")
	netnstest.RequireTool(t, "bridge")
	c := e2e.Start(t)
	set, err := client.New(c.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := netnstest.New(t, "knn")
	netnstest.IP(t, ns, "link", "add", "up0", "type", "veth", "peer", "name", "up1")
	netnstest.IP(t, ns, "addr", "add", "192.168.50.2/24", "dev", "up0")
	netnstest.IP(t, ns, "link", "set", "up0", "up")
	netnstest.IP(t, ns, "link", "set", "up1", "up")

	nodes := set.Nodes()
	for _, n := range []*corev1.Node{
		mkNode("me", "10.42.0.0/24", nil),
		mkNode("peer", "10.42.1.0/24", map[string]string{
			nodenet.AnnotationBackendData: `{"VNI":1,"VtepMAC":"8a:2c:11:00:00:02"}`, nodenet.AnnotationPublicIP: "192.168.50.3"}),
	} {
		if _, err := nodes.Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stop := startWiring(t, set, ns, func(c *nodenet.Config) { c.ExternalIPs = []netip.Addr{netip.MustParseAddr("203.0.113.5")} })

	t.Run("overlay", func(t *testing.T) { testOverlay(t, set, ns) })
	t.Run("services", func(t *testing.T) { testServices(t, set, ns) })
	t.Run("policies", func(t *testing.T) { testPolicies(t, set, ns) })

	// --disable proxy and network-policy: a restart removes both tables
	// and leaves the overlay's.
	stop()
	stop2 := startWiring(t, set, ns, func(c *nodenet.Config) { c.DisableProxy, c.DisableNetworkPolicy = true, true })
	eventually(t, ns, []string{"table ip kserver-proxy", "table ip kserver-netpol"}, true, "nft", "list", "tables")
	eventually(t, ns, []string{"table ip kserver-overlay"}, false, "nft", "list", "tables")

	// Teardown (uninstall) removes the rest.
	stop2()
	if err := nodenet.Teardown(nodenet.Config{NodeName: "me", NetNS: ns.Path()}); err != nil {
		t.Fatal(err)
	}
	if out := kernel(t, ns, "nft", "list", "tables"); strings.Contains(out, "kserver") {
		t.Errorf("tables left after Teardown: %s", out)
	}
	if out := kernel(t, ns, "ip", "link"); strings.Contains(out, "flannel.1") {
		t.Errorf("flannel.1 left after Teardown: %s", out)
	}
	if out := kernel(t, ns, "ip", "route"); strings.Contains(out, "10.42.") {
		t.Errorf("routes left after Teardown: %s", out)
	}
}

func testOverlay(t *testing.T, set *client.Set, ns *netns.NS) {
	ctx := context.Background()
	// This node published its side; the peer's route, ARP and FDB entries exist.
	var mac string
	netnstest.Eventually(t, 20*time.Second, func() error {
		me, err := set.Nodes().Get(ctx, "me", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if me.Annotations[nodenet.AnnotationPublicIP] != "192.168.50.2" || nodenet.VtepMAC(me) == nil {
			return fmt.Errorf("annotations %v", me.Annotations)
		}
		mac = nodenet.VtepMAC(me).String()
		return nil
	})
	if out := kernel(t, ns, "ip", "link", "show", "flannel.1"); !strings.Contains(out, mac) || !strings.Contains(out, "mtu 1450") {
		t.Errorf("flannel.1 does not carry the published MAC %s with MTU 1450: %s", mac, out)
	}
	eventually(t, ns, []string{"10.42.1.0/24 via 10.42.1.0 dev flannel.1 onlink"}, false, "ip", "route")
	eventually(t, ns, []string{"8a:2c:11:00:00:02 dst 192.168.50.3"}, false, "bridge", "fdb", "show", "dev", "flannel.1")

	// A second peer appears, the first changes its MAC, then goes away.
	if _, err := set.Nodes().Create(ctx, mkNode("third", "10.42.2.0/24", map[string]string{
		nodenet.AnnotationBackendData: `{"VNI":1,"VtepMAC":"8a:2c:11:00:00:03"}`, nodenet.AnnotationPublicIP: "192.168.50.4"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, []string{"10.42.2.0/24 via 10.42.2.0 dev flannel.1 onlink"}, false, "ip", "route")
	peer, err := set.Nodes().Get(ctx, "peer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	peer.Annotations[nodenet.AnnotationBackendData] = `{"VNI":1,"VtepMAC":"8a:2c:11:00:00:22"}`
	if _, err := set.Nodes().Update(ctx, peer, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, []string{"10.42.1.0 lladdr 8a:2c:11:00:00:22 PERMANENT"}, false, "ip", "neigh", "show", "dev", "flannel.1")
	if err := set.Nodes().Delete(ctx, "peer", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, []string{"10.42.1.0/24"}, true, "ip", "route")
	eventually(t, ns, []string{"10.42.2.0/24 via 10.42.2.0"}, false, "ip", "route")
}

func testServices(t *testing.T, set *client.Set, ns *netns.NS) {
	ctx := context.Background()
	svc, err := set.Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vip := svc.Spec.ClusterIP
	// The node's external IP (--node-external-ip) serves NodePorts.
	eventually(t, ns, []string{"ip daddr 203.0.113.5 goto nodeports"}, false, "nft", "list", "chain", "ip", "kserver-proxy", "services")
	// No endpoints yet: rejected at once.
	eventually(t, ns, []string{vip + " . tcp . 80,"}, false, "nft", "list", "set", "ip", "kserver-proxy", "no-endpoint-services")
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"}, NodeName: ptr.To("me")}},
	}
	if sl, err = set.EndpointSlices("default").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, []string{vip + " . tcp . 80 . 0 : 10.42.0.5 . 8080"}, false, "nft", "list", "table", "ip", "kserver-proxy")
	eventually(t, ns, []string{vip + " . tcp . 80,"}, true, "nft", "list", "set", "ip", "kserver-proxy", "no-endpoint-services")
	// The endpoint moves: only the element changes.
	sl.Endpoints[0].Addresses = []string{"10.42.0.6"}
	if _, err := set.EndpointSlices("default").Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, []string{vip + " . tcp . 80 . 0 : 10.42.0.6 . 8080"}, false, "nft", "list", "table", "ip", "kserver-proxy")
	eventually(t, ns, []string{"10.42.0.5 . 8080"}, true, "nft", "list", "table", "ip", "kserver-proxy")
	// The Service goes: its dispatch entry goes too.
	if err := set.Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, []string{vip + " "}, true, "nft", "list", "table", "ip", "kserver-proxy")
}

func testPolicies(t *testing.T, set *client.Set, ns *netns.NS) {
	ctx := context.Background()
	pod := func(name, ip string, labels map[string]string) {
		p, err := set.Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: corev1.PodSpec{NodeName: "me", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase, p.Status.PodIP, p.Status.PodIPs = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}
		if _, err := set.Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod("db", "10.42.0.20", map[string]string{"app": "db"})
	pod("api", "10.42.0.21", map[string]string{"app": "api"})
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
			{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}}}},
	}}
	if _, err := set.NetworkPolicies("default").Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, []string{"chain ingress-10.42.0.20", "10.42.0.21"}, false, "nft", "list", "table", "ip", "kserver-netpol")
	// A new pod matching the peer selector joins the peers.
	pod("api-2", "10.42.0.22", map[string]string{"app": "api"})
	eventually(t, ns, []string{"10.42.0.21-10.42.0.22"}, false, "nft", "list", "table", "ip", "kserver-netpol")
	if err := set.NetworkPolicies("default").Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, []string{"chain ingress-10.42.0.20"}, true, "nft", "list", "table", "ip", "kserver-netpol")
}
