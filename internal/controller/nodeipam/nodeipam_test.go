package nodeipam_test

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/nodeipam"
	"kserver.dev/kserver/internal/e2e"
)

func TestNodesGetSubnetsKeptAcrossRestartsAndFreed(t *testing.T) {
	cfg := e2e.Start(t).RestConfig(t)
	cfg.QPS = -1
	env := controllertest.New(t, cfg)
	rec, b := client.NewRecorder(env.Set, nodeipam.Component)
	defer b.Shutdown()
	build := func() *nodeipam.Controller {
		c, err := nodeipam.New(nodeipam.Config{Set: env.Set, Informers: env.Inf, Recorder: rec,
			ClusterCIDR: netip.MustParsePrefix("10.42.0.0/23")}) // room for two nodes
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := build()
	env.Start()
	c.Recover()
	create := func(name string) {
		t.Helper()
		n, err := env.Set.Nodes().Create(env.Ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.Nodes(), n)
	}
	podCIDR := func(c *nodeipam.Controller, name string) string {
		t.Helper()
		if err := c.Sync(env.Ctx, name); err != nil {
			t.Fatal(err)
		}
		n, err := env.Set.Nodes().Get(env.Ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.Nodes(), n)
		if len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			t.Fatalf("podCIDRs %v disagree with podCIDR %s", n.Spec.PodCIDRs, n.Spec.PodCIDR)
		}
		return n.Spec.PodCIDR
	}
	create("a")
	if got := podCIDR(c, "a"); got != "10.42.0.0/24" {
		t.Fatalf("node a: %q", got)
	}
	// A restarted controller (fresh memory) reads a's subnet back and does
	// not hand it out again.
	c = build()
	c.Recover()
	create("b")
	if got := podCIDR(c, "b"); got != "10.42.1.0/24" {
		t.Fatalf("node b after a restart: %q", got)
	}
	create("c")
	if got := podCIDR(c, "c"); got != "" {
		t.Fatalf("node c got %q from an exhausted range", got)
	}
	env.WaitEvent("", "Node", "c", "Normal CIDRNotAvailable Node c status is now: CIDRNotAvailable")

	// Deleting a node frees its subnet for the one waiting.
	if err := env.Set.Nodes().Delete(env.Ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Gone(env.Inf.Nodes(), "a")
	if err := c.Sync(env.Ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := podCIDR(c, "c"); got != "10.42.0.0/24" {
		t.Fatalf("node c after a was deleted: %q", got)
	}
}

// A node deleted and re-created under the same name before the controller
// saw the deletion (one queued key for both events): the new object gets
// a subnet, the old object's subnet is freed rather than leaked, and no
// subnet is held twice.
func TestNodeRecreatedBeforeDeleteProcessed(t *testing.T) {
	cfg := e2e.Start(t).RestConfig(t)
	cfg.QPS = -1
	env := controllertest.New(t, cfg)
	rec, b := client.NewRecorder(env.Set, nodeipam.Component)
	defer b.Shutdown()
	c, err := nodeipam.New(nodeipam.Config{Set: env.Set, Informers: env.Inf, Recorder: rec,
		ClusterCIDR: netip.MustParsePrefix("10.42.0.0/22")}) // room for four nodes
	if err != nil {
		t.Fatal(err)
	}
	env.Start()
	c.Recover()
	create := func(name string) *corev1.Node {
		t.Helper()
		n, err := env.Set.Nodes().Create(env.Ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.Nodes(), n)
		return n
	}
	podCIDR := func(name string) string {
		t.Helper()
		if err := c.Sync(env.Ctx, name); err != nil {
			t.Fatal(err)
		}
		n, err := env.Set.Nodes().Get(env.Ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.Nodes(), n)
		return n.Spec.PodCIDR
	}
	create("a")
	create("b")
	oldA, b1 := podCIDR("a"), podCIDR("b")
	if oldA == "" || b1 == "" || oldA == b1 {
		t.Fatalf("first subnets: a %q, b %q", oldA, b1)
	}

	// A cache that has not caught up with an assignment (the node as it
	// was before the patch) does not get the node a second subnet.
	stale, err := env.Set.Nodes().Get(env.Ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale = stale.DeepCopy()
	stale.Spec.PodCIDR, stale.Spec.PodCIDRs = "", nil
	if err := env.Inf.Nodes().GetIndexer().Update(stale); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(env.Ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got := podCIDR("b"); got != b1 {
		t.Fatalf("node b after a sync from a stale cache: %q, want %q", got, b1)
	}

	// Fill the range.
	for _, n := range []string{"x", "y"} {
		create(n)
		if got := podCIDR(n); got == "" {
			t.Fatalf("node %s got no subnet from a range with room", n)
		}
	}

	// Delete and re-create a; only the re-created object reaches sync.
	if err := env.Set.Nodes().Delete(env.Ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	newA := create("a")
	if got := podCIDR("a"); got == "" || got == b1 {
		t.Fatalf("re-created node a (uid %s) got %q; b holds %q", newA.UID, got, b1)
	}
	// The range is full again: the old object's subnet was not kept too,
	// and nothing was handed out twice.
	create("c")
	if got := podCIDR("c"); got != "" {
		t.Fatalf("node c got %q; a and b hold the whole range", got)
	}
	seen := map[string]string{}
	for _, n := range []string{"a", "b", "x", "y"} {
		got := podCIDR(n)
		if other, dup := seen[got]; dup || got == "" {
			t.Fatalf("node %s has %q (also held by %q)", n, got, other)
		}
		seen[got] = n
	}
}
