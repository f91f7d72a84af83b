package nodelifecycle_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/nodelifecycle"
	"kserver.dev/kserver/internal/e2e"
)

type fixture struct {
	*controllertest.Env
	t     *testing.T
	clock *clocktesting.FakeClock
	nc    *nodelifecycle.Controller
	te    *nodelifecycle.TaintEviction
}

func newFixture(t *testing.T) *fixture {
	cfg := e2e.Start(t).RestConfig(t)
	cfg.QPS = -1
	env := controllertest.New(t, cfg)
	clk := clocktesting.NewFakeClock(time.Now())
	rec, b := client.NewRecorder(env.Set, nodelifecycle.Component)
	t.Cleanup(b.Shutdown)
	erec, eb := client.NewRecorder(env.Set, nodelifecycle.EvictionComponent)
	t.Cleanup(eb.Shutdown)
	f := &fixture{Env: env, t: t, clock: clk,
		nc: nodelifecycle.New(nodelifecycle.Config{Set: env.Set, Informers: env.Inf, Recorder: rec, Clock: clk}),
		te: nodelifecycle.NewTaintEviction(nodelifecycle.EvictionConfig{Set: env.Set, Informers: env.Inf, Recorder: erec, Clock: clk}),
	}
	env.Start()
	return f
}

// node creates a node reporting Ready (when ready) with a heartbeat now.
func (f *fixture) node(name string, ready bool) *corev1.Node {
	f.t.Helper()
	n, err := f.Set.Nodes().Create(f.Ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{corev1.LabelOSStable: "linux", corev1.LabelArchStable: "arm64"}}}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if ready {
		now := metav1.NewTime(f.clock.Now())
		n.Status.Conditions = []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: now, LastTransitionTime: now},
		}
		if n, err = f.Set.Nodes().UpdateStatus(f.Ctx, n, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.Cached(f.Inf.Nodes(), n)
	return n
}

func (f *fixture) renewLease(node string) {
	f.t.Helper()
	now := metav1.NewMicroTime(f.clock.Now())
	leases := f.Set.Leases(corev1.NamespaceNodeLease)
	l, err := leases.Get(f.Ctx, node, metav1.GetOptions{})
	if err != nil {
		l, err = leases.Create(f.Ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &now}}, metav1.CreateOptions{})
	} else {
		l.Spec.RenewTime = &now
		l, err = leases.Update(f.Ctx, l, metav1.UpdateOptions{})
	}
	if err != nil {
		f.t.Fatal(err)
	}
	f.Cached(f.Inf.Leases(), l)
}

func (f *fixture) pod(name, node string, tolerations ...corev1.Toleration) *corev1.Pod {
	f.t.Helper()
	p, err := f.Set.Pods("default").Create(f.Ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{NodeName: node, Tolerations: tolerations, Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if p, err = f.Set.Pods("default").UpdateStatus(f.Ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.Cached(f.Inf.Pods(), p)
	return p
}

func (f *fixture) syncNode(name string) *corev1.Node {
	f.t.Helper()
	if err := f.nc.Sync(f.Ctx, name); err != nil {
		f.t.Fatal(err)
	}
	n, err := f.Set.Nodes().Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
	return n
}

func taintsOf(n *corev1.Node) string {
	var s []string
	for _, t := range n.Spec.Taints {
		s = append(s, t.Key+":"+string(t.Effect))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

func cond(n *corev1.Node, t corev1.NodeConditionType) string {
	for _, c := range n.Status.Conditions {
		if c.Type == t {
			return string(c.Status) + " " + c.Reason + " " + c.Message
		}
	}
	return ""
}

func TestSilentNodeGoesUnknownTaintedAndBack(t *testing.T) {
	f := newFixture(t)
	f.node("n1", true)
	f.node("n2", true) // stays Ready: not every node is down
	f.renewLease("n1")
	f.pod("web", "n1")

	n := f.syncNode("n1")
	if taintsOf(n) != "" || n.Labels["beta.kubernetes.io/os"] != "linux" || n.Labels["beta.kubernetes.io/arch"] != "arm64" {
		t.Fatalf("healthy node: taints %q labels %v", taintsOf(n), n.Labels)
	}
	f.WaitEvent("", "Node", "n1", "Normal RegisteredNode Node n1 event: Registered Node n1 in Controller")

	// Heartbeats keep it healthy past the grace period.
	f.clock.Step(40 * time.Second)
	f.renewLease("n1")
	f.clock.Step(40 * time.Second)
	if n = f.syncNode("n1"); cond(n, corev1.NodeReady) != "True KubeletReady " {
		t.Fatalf("renewed node: %s", cond(n, corev1.NodeReady))
	}

	// Silence longer than 50 s: Unknown, tainted, pods not ready.
	f.clock.Step(51 * time.Second)
	n = f.syncNode("n1")
	if got := cond(n, corev1.NodeReady); got != "Unknown NodeStatusUnknown Kubelet stopped posting node status." {
		t.Fatalf("ready after silence: %s", got)
	}
	if got := cond(n, corev1.NodeDiskPressure); got != "Unknown NodeStatusNeverUpdated Kubelet never posted node status." {
		t.Fatalf("disk pressure after silence: %s", got)
	}
	if got := taintsOf(n); got != "node.kubernetes.io/unreachable:NoExecute node.kubernetes.io/unreachable:NoSchedule" {
		t.Fatalf("taints after silence: %q", got)
	}
	for _, tn := range n.Spec.Taints {
		if tn.Effect == corev1.TaintEffectNoExecute && tn.TimeAdded == nil {
			t.Fatal("NoExecute taint without timeAdded")
		}
	}
	f.WaitEvent("", "Node", "n1", "Normal NodeNotReady Node n1 status is now: NodeNotReady")
	p, _ := f.Set.Pods("default").Get(f.Ctx, "web", metav1.GetOptions{})
	if p.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Fatalf("pod on silent node: %+v", p.Status.Conditions)
	}
	f.WaitEvent("default", "Pod", "web", "Warning NodeNotReady Node is not ready")

	// The kubelet comes back: taints go.
	now := metav1.NewTime(f.clock.Now())
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
	n, err := f.Set.Nodes().UpdateStatus(f.Ctx, n, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
	if n = f.syncNode("n1"); taintsOf(n) != "" {
		t.Fatalf("taints after recovery: %q", taintsOf(n))
	}

	// Cordoned: unschedulable taint; uncordoned: gone.
	n.Spec.Unschedulable = true
	if n, err = f.Set.Nodes().Update(f.Ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
	if n = f.syncNode("n1"); taintsOf(n) != "node.kubernetes.io/unschedulable:NoSchedule" {
		t.Fatalf("cordoned taints: %q", taintsOf(n))
	}
	n.Spec.Unschedulable = false
	if n, err = f.Set.Nodes().Update(f.Ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
	if n = f.syncNode("n1"); taintsOf(n) != "" {
		t.Fatalf("uncordoned taints: %q", taintsOf(n))
	}
}

func TestEveryNodeDownMeansNoNoExecuteTaint(t *testing.T) {
	f := newFixture(t)
	f.node("solo", true)
	f.syncNode("solo")
	f.clock.Step(time.Minute)
	n := f.syncNode("solo")
	if cond(n, corev1.NodeReady) == "" || !strings.HasPrefix(cond(n, corev1.NodeReady), "Unknown") {
		t.Fatalf("silent node: %s", cond(n, corev1.NodeReady))
	}
	if n = f.syncNode("solo"); taintsOf(n) != "node.kubernetes.io/unreachable:NoSchedule" {
		t.Fatalf("lone silent node must not get a NoExecute taint: %q", taintsOf(n))
	}
}

func TestTaintEvictionHonoursTolerationSeconds(t *testing.T) {
	f := newFixture(t)
	n := f.node("n1", true)
	f.pod("intolerant", "n1")
	f.pod("patient", "n1", corev1.Toleration{Key: "maintenance", Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60)})
	f.pod("forever", "n1", corev1.Toleration{Key: "maintenance", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})
	added := metav1.NewTime(f.clock.Now())
	n.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}}
	n, err := f.Set.Nodes().Update(f.Ctx, n, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
	syncPod := func(name string) *corev1.Pod {
		t.Helper()
		if err := f.te.Sync(f.Ctx, "default/"+name); err != nil {
			t.Fatal(err)
		}
		p, err := f.Set.Pods("default").Get(f.Ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := syncPod("intolerant")
	if p.DeletionTimestamp == nil {
		t.Fatal("intolerant pod not evicted")
	}
	var dt *corev1.PodCondition
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
			dt = &p.Status.Conditions[i]
		}
	}
	if dt == nil || dt.Reason != "DeletionByTaintManager" || dt.Message != "Taint manager: deleting due to NoExecute taint" {
		t.Fatalf("DisruptionTarget: %+v", p.Status.Conditions)
	}
	f.WaitEvent("default", "Pod", "intolerant", "Normal TaintManagerEviction Marking for deletion Pod default/intolerant")

	if p = syncPod("patient"); p.DeletionTimestamp != nil {
		t.Fatal("pod evicted before its tolerationSeconds")
	}
	if p = syncPod("forever"); p.DeletionTimestamp != nil {
		t.Fatal("pod tolerating for ever evicted")
	}
	f.clock.Step(61 * time.Second)
	if p = syncPod("patient"); p.DeletionTimestamp == nil {
		t.Fatal("pod not evicted after its tolerationSeconds")
	}
	if p = syncPod("forever"); p.DeletionTimestamp != nil {
		t.Fatal("pod tolerating for ever evicted later")
	}

	// A taint removed before the time runs out cancels the eviction.
	f.pod("lucky", "n1", corev1.Toleration{Key: "maintenance", Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](3600)})
	syncPod("lucky")
	n, _ = f.Set.Nodes().Get(f.Ctx, "n1", metav1.GetOptions{})
	n.Spec.Taints = nil
	if n, err = f.Set.Nodes().Update(f.Ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
	if p = syncPod("lucky"); p.DeletionTimestamp != nil {
		t.Fatal("pod evicted after the taint went")
	}
	f.WaitEvent("default", "Pod", "lucky", "Normal TaintManagerEviction Cancelling deletion of Pod default/lucky")
}
