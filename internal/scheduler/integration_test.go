package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/scheduler"
	"kserver.dev/kserver/internal/store/sqlite"
)

// startAPI runs an in-process API server on a real SQLite store and
// returns clients that reach it through the in-memory transport.
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
	set, err := client.New(api.RestConfig(apiserver.User{Name: "system:kube-scheduler", Groups: []string{"system:masters"}}))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// runScheduler starts a scheduler against set and stops it when the test
// ends.
func runScheduler(t testing.TB, set *client.Set) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inf := client.NewInformers(set, 0)
	rec, b := client.NewRecorder(set, "default-scheduler")
	s, err := scheduler.New(scheduler.DefaultConfig(), set, inf, rec, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler: %v", err)
		}
		b.Shutdown()
	})
}

func readyNode(name, cpu string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"}},
		},
	}
}

// createNode creates a node with its status (writing the status
// subresource too if the create dropped it).
func createNode(ctx context.Context, t testing.TB, set *client.Set, n *corev1.Node) {
	t.Helper()
	got, err := set.Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Allocatable) == 0 {
		got.Status = n.Status
		if _, err := set.Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func pendingPod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
	}
}

func eventually(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) { return cond() })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestSchedulerAgainstAPIServer(t *testing.T) {
	set := startAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createNode(ctx, t, set, readyNode("cp", "4", corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}))
	createNode(ctx, t, set, readyNode("w1", "1"))
	createNode(ctx, t, set, readyNode("w2", "1"))
	runScheduler(t, set)
	pods := set.Pods("default")

	// Small pods are bound to the workers, never to the tainted node.
	for i := range 4 {
		if _, err := pods.Create(ctx, pendingPod(fmt.Sprintf("small-%d", i), "200m"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(ctx, t, "small pods bound", func() (bool, error) {
		list, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		bound := 0
		for _, p := range list.Items {
			if p.Spec.NodeName == "cp" {
				return false, fmt.Errorf("%s bound to the tainted control-plane node", p.Name)
			}
			if p.Spec.NodeName != "" && podScheduled(&p) == corev1.ConditionTrue {
				bound++
			}
		}
		return bound == 4, nil
	})

	// A pod that fits nowhere gets upstream's event and condition.
	if _, err := pods.Create(ctx, pendingPod("big", "2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const msg = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. " +
		"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	eventually(ctx, t, "PodScheduled=False", func() (bool, error) {
		p, err := pods.Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				if c.Reason != "Unschedulable" || c.Message != msg {
					return false, fmt.Errorf("condition %s: %q", c.Reason, c.Message)
				}
				return true, nil
			}
		}
		return false, nil
	})
	eventually(ctx, t, "FailedScheduling event", func() (bool, error) {
		evs, err := set.Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=big"})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == "FailedScheduling" {
				if e.Type != corev1.EventTypeWarning || e.Message != msg || e.Source.Component != "default-scheduler" || e.InvolvedObject.Kind != "Pod" {
					return false, fmt.Errorf("event %+v", e)
				}
				return true, nil
			}
		}
		return false, nil
	})

	// A node that fits appears: the pod is scheduled there.
	createNode(ctx, t, set, readyNode("w3", "4"))
	eventually(ctx, t, "big bound to w3", func() (bool, error) {
		p, err := pods.Get(ctx, "big", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "w3" && podScheduled(p) == corev1.ConditionTrue, err
	})
	eventually(ctx, t, "Scheduled event", func() (bool, error) {
		evs, err := set.Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=big,reason=Scheduled"})
		return err == nil && len(evs.Items) == 1 && evs.Items[0].Message == "Successfully assigned default/big to w3", err
	})

	// A pod for another scheduler is left alone.
	other := pendingPod("other", "100m")
	other.Spec.SchedulerName = "my-scheduler"
	if _, err := pods.Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	probe := pendingPod("probe", "100m")
	if _, err := pods.Create(ctx, probe, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(ctx, t, "probe bound", func() (bool, error) {
		p, err := pods.Get(ctx, "probe", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != "", err
	})
	if p, err := pods.Get(ctx, "other", metav1.GetOptions{}); err != nil || p.Spec.NodeName != "" || len(p.Status.Conditions) > 0 && podScheduled(p) != "" {
		t.Fatalf("pod of another scheduler touched: %v %+v", err, p.Status)
	}
}

func podScheduled(p *corev1.Pod) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status
		}
	}
	return ""
}
