package daemonset_test

import (
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/daemonset"
	"kserver.dev/kserver/internal/e2e"
)

type fixture struct {
	*controllertest.Env
	c *daemonset.Controller
}

func setup(t *testing.T) *fixture {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, daemonset.Component)
	t.Cleanup(b.Shutdown)
	f := &fixture{Env: env, c: daemonset.New(daemonset.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})}
	env.Start()
	return f
}

func (f *fixture) node(name string, lbl map[string]string, taints ...corev1.Taint) {
	f.T.Helper()
	n, err := f.Set.Nodes().Create(f.Ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl}, Spec: corev1.NodeSpec{Taints: taints}}, metav1.CreateOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
}

func newDS(name string, nodeSelector map[string]string) *appsv1.DaemonSet {
	lbl := map[string]string{"ds": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{NodeSelector: nodeSelector,
					Containers: []corev1.Container{{Name: "agent", Image: "fluentd:1"}}},
			},
		},
	}
}

// step syncs once the cache holds the current pods, nodes and set, and
// returns the nodes that now have a pod.
func (f *fixture) step(name string) []string {
	f.T.Helper()
	ds, err := f.Set.DaemonSets("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	f.Cached(f.Inf.DaemonSets(), ds)
	sel := labels.SelectorFromSet(labels.Set{"ds": name})
	pods := f.Pods("default", sel)
	f.CachedCount(f.Inf.Pods(), "default", sel, len(pods))
	for i := range pods {
		f.Cached(f.Inf.Pods(), &pods[i])
	}
	nodes, _ := f.Set.Nodes().List(f.Ctx, metav1.ListOptions{})
	for i := range nodes.Items {
		f.Cached(f.Inf.Nodes(), &nodes.Items[i])
	}
	f.CachedCount(f.Inf.Nodes(), "", labels.Everything(), len(nodes.Items))
	if err := f.c.Sync(f.Ctx, "default/"+name); err != nil {
		f.T.Fatalf("sync: %v", err)
	}
	return f.nodesWithPods(name)
}

func (f *fixture) nodesWithPods(name string) []string {
	var out []string
	for _, p := range f.Pods("default", labels.SelectorFromSet(labels.Set{"ds": name})) {
		out = append(out, p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0])
	}
	sort.Strings(out)
	return out
}

func TestDaemonSetFollowsNodes(t *testing.T) {
	f := setup(t)
	f.node("n1", nil)
	f.node("n2", nil)
	f.node("n3", nil, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule})
	if _, err := f.Set.DaemonSets("default").Create(f.Ctx, newDS("agent", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.step("agent"), ","); got != "n1,n2" {
		t.Fatalf("pods on %s, want n1,n2 (n3 is tainted)", got)
	}
	p := f.Pods("default", labels.SelectorFromSet(labels.Set{"ds": "agent"}))[0]
	if p.Spec.NodeName != "" || p.Labels[appsv1.ControllerRevisionHashLabelKey] == "" || p.Labels[appsv1.DeprecatedTemplateGeneration] != "1" {
		t.Fatalf("pod nodeName %q labels %v", p.Spec.NodeName, p.Labels)
	}
	tol := map[string]bool{}
	for _, t := range p.Spec.Tolerations {
		tol[t.Key+":"+string(t.Effect)] = true
	}
	for _, want := range []string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
		"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
		"node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"} {
		if !tol[want] {
			t.Fatalf("missing toleration %s in %v", want, p.Spec.Tolerations)
		}
	}
	f.WaitEvent("default", "DaemonSet", "agent", "Normal SuccessfulCreate Created pod: agent-")

	// A new node gets a pod; a removed node's pod goes.
	f.node("n4", nil)
	if got := strings.Join(f.step("agent"), ","); got != "n1,n2,n4" {
		t.Fatalf("after adding n4: %s", got)
	}
	if err := f.Set.Nodes().Delete(f.Ctx, "n2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Gone(f.Inf.Nodes(), "n2")
	if got := strings.Join(f.step("agent"), ","); got != "n1,n4" {
		t.Fatalf("after removing n2: %s", got)
	}

	// Status once the pods are ready.
	for _, p := range f.Pods("default", labels.SelectorFromSet(labels.Set{"ds": "agent"})) {
		f.SetPodStatus(&p, corev1.PodRunning, true)
	}
	f.step("agent")
	ds, _ := f.Set.DaemonSets("default").Get(f.Ctx, "agent", metav1.GetOptions{})
	st := ds.Status
	if st.DesiredNumberScheduled != 2 || st.CurrentNumberScheduled != 2 || st.NumberReady != 2 || st.NumberAvailable != 2 ||
		st.UpdatedNumberScheduled != 2 || st.NumberMisscheduled != 0 || st.ObservedGeneration != ds.Generation {
		t.Fatalf("status %+v", st)
	}

	// Rolling update: one node at a time (maxUnavailable 1).
	ds.Spec.Template.Spec.Containers[0].Image = "fluentd:2"
	if _, err := f.Set.DaemonSets("default").Update(f.Ctx, ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.step("agent")
	if got := len(f.Pods("default", labels.SelectorFromSet(labels.Set{"ds": "agent"}))); got != 1 {
		t.Fatalf("rolling update deleted %d pods at once", 2-got)
	}
	for i := 0; i < 6; i++ {
		f.step("agent")
		for _, p := range f.Pods("default", labels.SelectorFromSet(labels.Set{"ds": "agent"})) {
			if p.Status.Phase != corev1.PodRunning {
				f.SetPodStatus(&p, corev1.PodRunning, true)
			}
		}
	}
	for _, p := range f.Pods("default", labels.SelectorFromSet(labels.Set{"ds": "agent"})) {
		if p.Spec.Containers[0].Image != "fluentd:2" {
			t.Fatalf("pod %s still on %s", p.Name, p.Spec.Containers[0].Image)
		}
	}
	revs, _ := f.Set.ControllerRevisions("default").List(f.Ctx, metav1.ListOptions{LabelSelector: "ds=agent"})
	if len(revs.Items) != 2 {
		t.Fatalf("want 2 controller revisions, got %d", len(revs.Items))
	}
}

func TestDaemonSetFollowsNodeLabels(t *testing.T) {
	f := setup(t)
	f.node("a", nil)
	f.node("b", nil)
	if _, err := f.Set.DaemonSets("default").Create(f.Ctx, newDS("ssd", map[string]string{"disk": "ssd"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.step("ssd"); len(got) != 0 {
		t.Fatalf("pods on %v before any node has the label", got)
	}
	n, _ := f.Set.Nodes().Get(f.Ctx, "b", metav1.GetOptions{})
	n.Labels = map[string]string{"disk": "ssd"}
	n, err := f.Set.Nodes().Update(f.Ctx, n, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
	if got := strings.Join(f.step("ssd"), ","); got != "b" {
		t.Fatalf("after labelling b: %s", got)
	}
	n.Labels = nil
	n, err = f.Set.Nodes().Update(f.Ctx, n, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), n)
	if got := f.step("ssd"); len(got) != 0 {
		t.Fatalf("after unlabelling b: %v", got)
	}
	f.WaitEvent("default", "DaemonSet", "ssd", "Normal SuccessfulDelete Deleted pod: ssd-")
}

func TestDaemonSetSurge(t *testing.T) {
	f := setup(t)
	f.node("s1", nil)
	ds := newDS("surge", nil)
	one := intstr.FromInt32(1)
	zero := intstr.FromInt32(0)
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: &one, MaxUnavailable: &zero}}
	if _, err := f.Set.DaemonSets("default").Create(f.Ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.step("surge")
	sel := labels.SelectorFromSet(labels.Set{"ds": "surge"})
	old := f.Pods("default", sel)[0]
	f.SetPodStatus(&old, corev1.PodRunning, true)
	f.step("surge")
	cur, _ := f.Set.DaemonSets("default").Get(f.Ctx, "surge", metav1.GetOptions{})
	cur.Spec.Template.Spec.Containers[0].Image = "fluentd:2"
	if _, err := f.Set.DaemonSets("default").Update(f.Ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The new pod starts beside the old one, which stays until it is available.
	f.step("surge")
	pods := f.Pods("default", sel)
	if len(pods) != 2 {
		t.Fatalf("surge: want old and new pod side by side, got %d", len(pods))
	}
	f.step("surge")
	if len(f.Pods("default", sel)) != 2 {
		t.Fatal("old pod deleted before the new one is available")
	}
	for _, p := range pods {
		if p.Name != old.Name {
			f.SetPodStatus(&p, corev1.PodRunning, true)
		}
	}
	f.step("surge")
	left := f.Pods("default", sel)
	if len(left) != 1 || left[0].Name == old.Name {
		t.Fatalf("after the new pod is available: %d pods, old kept: %v", len(left), len(left) == 1 && left[0].Name == old.Name)
	}
}
