package multinode

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/e2e"
)

// TestMultiNode runs one cluster of a server and two agents and checks,
// subtest by subtest on that cluster, what a multi-node cluster must do.
// The subtests build on each other's objects and run in order.
func TestMultiNode(t *testing.T) {
	e := &env{m: e2e.StartMultiNode(t, e2e.MultiNodeOptions{}), k: e2e.FindKubectl(t)}
	t.Run("NodesJoinWithPodCIDRs", func(t *testing.T) { testNodesJoin(t, e) })
	if !t.Run("Workloads", func(t *testing.T) { e.deployWorkloads(t) }) {
		return
	}
	t.Run("PodToPodAcrossNodes", func(t *testing.T) { testPodToPod(t, e) })
	t.Run("ClusterIPFromNodesAndPods", func(t *testing.T) { testClusterIP(t, e) })
	t.Run("NodePortFromUnderlay", func(t *testing.T) { testNodePort(t, e) })
	t.Run("LoadBalancer", func(t *testing.T) { testLoadBalancer(t, e) })
	t.Run("SessionAffinity", func(t *testing.T) { testSessionAffinity(t, e) })
	t.Run("ExternalTrafficPolicyLocal", func(t *testing.T) { testExternalLocal(t, e) })
	t.Run("DNS", func(t *testing.T) { testDNS(t, e) })
	t.Run("NetworkPolicyAcrossNodes", func(t *testing.T) { testNetworkPolicy(t, e) })
	t.Run("NodeRemovedAndReadded", func(t *testing.T) { testNodeRemoved(t, e) })
}

// testNodesJoin: every node is Ready with its underlay address and a /24
// of the cluster CIDR of its own, as stock kubectl shows them.
func testNodesJoin(t *testing.T, e *env) {
	out := e.kubectl(t, "", "get", "nodes", "-o", "wide")
	for _, n := range e.m.Nodes {
		if !strings.Contains(out, n.Name) || !strings.Contains(out, n.IP) {
			t.Errorf("kubectl get nodes -o wide lacks %s %s:\n%s", n.Name, n.IP, out)
		}
	}
	nodes, err := e.m.Client(t).Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != len(e.m.Nodes) {
		t.Fatalf("%d nodes registered, want %d", len(nodes.Items), len(e.m.Nodes))
	}
	cluster := netip.MustParsePrefix("10.42.0.0/16")
	seen := map[string]string{}
	for _, n := range nodes.Items {
		p, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil || p.Bits() != 24 || !cluster.Contains(p.Addr()) {
			t.Errorf("node %s: podCIDR %q is not a /24 of %s", n.Name, n.Spec.PodCIDR, cluster)
		}
		if other, dup := seen[n.Spec.PodCIDR]; dup {
			t.Errorf("nodes %s and %s share podCIDR %s", n.Name, other, n.Spec.PodCIDR)
		}
		seen[n.Spec.PodCIDR] = n.Name
		var internal string
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				internal = a.Address
			}
		}
		if want := e.m.Node(n.Name).IP; internal != want {
			t.Errorf("node %s: InternalIP %q, want %s", n.Name, internal, want)
		}
	}
}
