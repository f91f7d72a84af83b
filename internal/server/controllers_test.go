package server

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/leader"
	"kserver.dev/kserver/internal/store/sqlite"
)

// testAPI is an in-process API server on a fresh store (two kserver
// servers cannot share one SQLite file, so two control planes share this
// one API server instead: the election is the same).
func testAPI(t *testing.T) *apiserver.Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.DefaultConfig(filepath.Join(t.TempDir(), "state.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	api, err := apiserver.New(apiserver.Config{
		Store: st, Catalog: registry.New(),
		ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"), NodePortRange: [2]int{30000, 32767},
		ClusterDNS: netip.MustParseAddr("10.43.0.10"), AdvertiseAddress: netip.MustParseAddr("127.0.0.1"), SecurePort: 6443,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	api.SetReady(true)
	return api
}

// leaders counts, per group, who leads and the most that ever led at once.
type leaders struct {
	mu   sync.Mutex
	now  map[string]map[string]bool
	most map[string]int
}

func (l *leaders) hook(identity string) func(string, bool) {
	return func(group string, on bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.now[group] == nil {
			l.now[group] = map[string]bool{}
		}
		if on {
			l.now[group][identity] = true
		} else {
			delete(l.now[group], identity)
		}
		l.most[group] = max(l.most[group], len(l.now[group]))
	}
}

func (l *leaders) leader(group string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.now[group] {
		return id
	}
	return ""
}

func TestControlPlaneElectionAndHandover(t *testing.T) {
	api := testAPI(t)
	set, err := client.New(api.RestConfig(apiserver.User{Name: "test", Groups: []string{"system:masters"}}))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := DefaultConfig()
	l := &leaders{now: map[string]map[string]bool{}, most: map[string]int{}}
	start := func(identity string) (stop func()) {
		cfg.NodeName = identity
		cp := newControlPlane(cfg, api, []byte("-----BEGIN CERTIFICATE-----\n"), logger)
		cp.lease = func(name, id string) leader.Config {
			c := leader.DefaultConfig(name, id)
			c.LeaseDuration, c.RenewPeriod, c.RetryPeriod = 3*time.Second, 300*time.Millisecond, 100*time.Millisecond
			return c
		}
		cp.leading = l.hook(identity)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = cp.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true,
			func(context.Context) (bool, error) { return cond(), nil }); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	// Controllers work: a new namespace gets its default ServiceAccount.
	controllersWork := func(ns string) {
		t.Helper()
		if _, err := set.Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor("default serviceaccount in "+ns, func() bool {
			_, err := set.ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
			return err == nil
		})
	}
	// The scheduler works: a pod is bound to the only node.
	schedulerWorks := func(pod string) {
		t.Helper()
		if _, err := set.Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}},
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(pod+" to be bound", func() bool {
			p, err := set.Pods("default").Get(context.Background(), pod, metav1.GetOptions{})
			return err == nil && p.Spec.NodeName == "n1"
		})
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	n, err := set.Nodes().Create(context.Background(), node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"),
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}
	n.Status.Capacity = n.Status.Allocatable
	if _, err := set.Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	stopA := start("a")
	waitFor("a to lead both groups", func() bool {
		return l.leader("kube-controller-manager") == "a" && l.leader("kube-scheduler") == "a"
	})
	stopB := start("b")
	defer stopB()
	controllersWork("one")
	schedulerWorks("p1")
	if l.leader("kube-controller-manager") != "a" || l.leader("kube-scheduler") != "a" {
		t.Fatal("b took over while a held the leases")
	}

	// a stops (releasing its leases): b takes over both and they work.
	began := time.Now()
	stopA()
	waitFor("b to lead both groups", func() bool {
		return l.leader("kube-controller-manager") == "b" && l.leader("kube-scheduler") == "b"
	})
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("handover took %s; a released its leases, so b should not wait for them to expire", took)
	}
	controllersWork("two")
	schedulerWorks("p2")
	for _, g := range []string{"kube-controller-manager", "kube-scheduler"} {
		if l.most[g] != 1 {
			t.Errorf("%s: %d leaders at once", g, l.most[g])
		}
		lease, err := set.Leases("kube-system").Get(context.Background(), g, metav1.GetOptions{})
		if err != nil || ptr.Deref(lease.Spec.HolderIdentity, "") != "b" {
			t.Errorf("lease %s after handover: %v %v", g, lease, err)
		}
	}
}
