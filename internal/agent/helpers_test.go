package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/runtime/sim"
	"kserver.dev/kserver/internal/store/sqlite"
)

const waitTimeout = 30 * time.Second

// startAPI runs an in-process API server on a real SQLite store.
func startAPI(t testing.TB) *client.Set {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, sqlite.DefaultConfig(filepath.Join(t.TempDir(), "state.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
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
	set, err := client.New(api.RestConfig(apiserver.User{Name: "system:admin", Groups: []string{"system:masters"}}))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("AGENT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// node is one running agent of a test.
type node struct {
	a      *Agent
	rt     *sim.Runtime
	parts  Parts
	clock  *testingclock.FakeClock
	cancel context.CancelFunc
	done   chan error
}

// simConfig is a simulated node's configuration for tests.
func simConfig(name string, c clock.WithTickerAndDelayedExecution) Config {
	return Config{NodeName: name, NodeIP: netip.MustParseAddr("127.0.0.1"), Simulated: true, Clock: c,
		FallbackPodCIDR: netip.MustParsePrefix("10.42.7.0/24")}
}

// startNode runs a simulated agent; fake selects a fake clock (stepped by
// the test) instead of the real one.
func startNode(t testing.TB, set *client.Set, cfg Config, fake bool) *node {
	t.Helper()
	n := &node{}
	var rc clock.WithDelayedExecution = clock.RealClock{}
	if fake {
		n.clock = testingclock.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		cfg.Clock, rc = n.clock, n.clock
	}
	cfg.Logger = testLogger(t)
	n.rt = sim.New(sim.Config{Clock: rc})
	n.parts = Parts{Runtime: n.rt}
	n.run(t, set, cfg)
	return n
}

// run (re)starts the agent over the node's runtime and parts.
func (n *node) run(t testing.TB, set *client.Set, cfg Config) {
	t.Helper()
	a, err := New(cfg, set, n.parts)
	if err != nil {
		t.Fatal(err)
	}
	n.parts = a.parts // keep the simulated images and network across restarts
	ctx, cancel := context.WithCancel(context.Background())
	n.a, n.cancel, n.done = a, cancel, make(chan error, 1)
	go func() { n.done <- a.Run(ctx) }()
	t.Cleanup(n.stop)
}

func (n *node) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
}

func waitNodeReady(t testing.TB, set *client.Set, name string) *corev1.Node {
	t.Helper()
	var got *corev1.Node
	waitFor(t, "node "+name+" Ready", func() (bool, error) {
		n, err := set.Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = n
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

// waitPod waits until cond holds for the pod and returns it.
func waitPod(t testing.TB, set *client.Set, ns, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	waitFor(t, fmt.Sprintf("pod %s/%s: %s", ns, name, what), func() (bool, error) {
		p, err := set.Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = p
		return cond(p), nil
	})
	return got
}

// simPod is a pod bound to node running one container "c".
func simPod(name, node string, annotations map[string]string, policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: node, RestartPolicy: policy,
			Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
	}
}

func createPod(t testing.TB, set *client.Set, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	got, err := set.Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// events returns the reasons and messages of the events about an object.
func events(t testing.TB, set *client.Set, ns, kind, name string) []corev1.Event {
	t.Helper()
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}.AsSelector().String()
	list, err := set.Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func hasEvent(evs []corev1.Event, reason, message string) bool {
	for _, e := range evs {
		if e.Reason == reason && (message == "" || e.Message == message) {
			return true
		}
	}
	return false
}

func containerState(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == name {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func intstrPort(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }
