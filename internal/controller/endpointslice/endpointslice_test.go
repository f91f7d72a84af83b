package endpointslice_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/endpointslice"
	"kserver.dev/kserver/internal/e2e"
)

type fixture struct {
	*controllertest.Env
	c *endpointslice.Controller
}

func newFixture(t *testing.T, max int) *fixture {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, endpointslice.Component)
	t.Cleanup(b.Shutdown)
	c := endpointslice.New(endpointslice.Config{Set: env.Set, Informers: env.Inf, Recorder: rec, MaxEndpointsPerSlice: max})
	env.Start()
	return &fixture{Env: env, c: c}
}

func (f *fixture) pod(t *testing.T, name, ip string, ready, terminating bool) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Hostname: name, Subdomain: "web",
			Containers: []corev1.Container{{Name: "c", Image: "nginx", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
	if terminating {
		pod.Finalizers = []string{"example.com/hold"}
	}
	p, err := f.Set.Pods("default").Create(f.Ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.Now()}}}
	if p, err = f.Set.Pods("default").UpdateStatus(f.Ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if terminating {
		if err := f.Set.Pods("default").Delete(f.Ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if p, err = f.Set.Pods("default").Get(f.Ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f.Cached(f.Inf.Pods(), p)
	return p
}

func (f *fixture) service(t *testing.T, headless bool) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	if headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	got, err := f.Set.Services("default").Create(f.Ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Services(), got)
	return got
}

// slicesNow reads the Service's slices from the API, sorted by name.
func (f *fixture) slicesNow(t *testing.T) []discoveryv1.EndpointSlice {
	t.Helper()
	l, err := f.Set.EndpointSlices("default").List(f.Ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(l.Items, func(a, b discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return l.Items
}

// syncSettled syncs, then waits for the cache to hold what was written.
func (f *fixture) syncSettled(t *testing.T) []discoveryv1.EndpointSlice {
	t.Helper()
	if err := f.c.Sync(f.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	got := f.slicesNow(t)
	f.Eventually("slice cache", func() bool {
		objs, _ := f.Inf.EndpointSlices().GetIndexer().ByIndex("namespace", "default")
		n := 0
		for _, o := range objs {
			if o.(*discoveryv1.EndpointSlice).Labels[discoveryv1.LabelServiceName] == "web" {
				n++
			}
		}
		return n == len(got)
	})
	for i := range got {
		f.Cached(f.Inf.EndpointSlices(), &got[i])
	}
	return got
}

func cond(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}

func TestSliceContentsLabelsAndConditions(t *testing.T) {
	f := newFixture(t, 0)
	node, err := f.Set.Nodes().Create(f.Ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1",
		Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Nodes(), node)
	svc := f.service(t, true)
	f.pod(t, "web-0", "10.42.0.1", true, false)
	f.pod(t, "web-1", "10.42.0.2", false, false)
	f.pod(t, "web-2", "10.42.0.3", true, true)
	got := f.syncSettled(t)
	if len(got) != 1 {
		t.Fatalf("want one slice, got %d", len(got))
	}
	s := got[0]
	if s.Labels[discoveryv1.LabelManagedBy] != endpointslice.ManagedBy || s.Labels["tier"] != "front" ||
		s.Labels[corev1.IsHeadlessService] != "" || !strings.HasPrefix(s.Name, "web-") || s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Fatalf("slice meta: %s %v %s", s.Name, s.Labels, s.AddressType)
	}
	if ref := metav1.GetControllerOf(&s); ref == nil || ref.UID != svc.UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Fatalf("owner: %+v", s.OwnerReferences)
	}
	if len(s.Ports) != 1 || *s.Ports[0].Port != 8080 || *s.Ports[0].Name != "http" {
		t.Fatalf("ports: %+v", s.Ports)
	}
	var lines []string
	for _, ep := range s.Endpoints {
		lines = append(lines, fmt.Sprintf("%s %s ready=%s serving=%s terminating=%s node=%s zone=%s host=%s",
			ep.TargetRef.Name, ep.Addresses[0], cond(ep.Conditions.Ready), cond(ep.Conditions.Serving),
			cond(ep.Conditions.Terminating), ptr.Deref(ep.NodeName, ""), ptr.Deref(ep.Zone, ""), ptr.Deref(ep.Hostname, "")))
	}
	want := []string{
		"web-0 10.42.0.1 ready=true serving=true terminating=false node=n1 zone=zone-a host=web-0",
		"web-1 10.42.0.2 ready=false serving=false terminating=false node=n1 zone=zone-a host=web-1",
		"web-2 10.42.0.3 ready=false serving=true terminating=true node=n1 zone=zone-a host=web-2",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("endpoints:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if s.Annotations[corev1.EndpointsLastChangeTriggerTime] == "" {
		t.Fatal("no trigger time annotation")
	}
}

func TestSlicesSplitAt100AndChurnLittle(t *testing.T) {
	f := newFixture(t, 3)
	f.service(t, false)
	for i := range 7 {
		f.pod(t, fmt.Sprintf("p%d", i), fmt.Sprintf("10.42.0.%d", i+1), true, false)
	}
	got := f.syncSettled(t)
	sizes := func(ss []discoveryv1.EndpointSlice) (out []int) {
		for _, s := range ss {
			out = append(out, len(s.Endpoints))
		}
		slices.Sort(out)
		return out
	}
	if fmt.Sprint(sizes(got)) != "[1 3 3]" {
		t.Fatalf("slice sizes %v", sizes(got))
	}
	// Syncing again with nothing changed writes nothing, even straight
	// after a write (the tracker waits for the cache).
	rvs := map[string]string{}
	for _, s := range got {
		rvs[s.Name] = s.ResourceVersion
	}
	if again := f.syncSettled(t); len(again) != 3 {
		t.Fatalf("slices after a no-op sync: %d", len(again))
	} else {
		for _, s := range again {
			if rvs[s.Name] != s.ResourceVersion {
				t.Fatalf("slice %s rewritten by a no-op sync", s.Name)
			}
		}
	}
	// One pod goes: only the slice that held it is written.
	if err := f.Set.Pods("default").Delete(f.Ctx, "p0", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	f.Gone(f.Inf.Pods(), "default/p0")
	after := f.syncSettled(t)
	rewritten, total := 0, 0
	for _, s := range after {
		total += len(s.Endpoints)
		if old, ok := rvs[s.Name]; !ok || old != s.ResourceVersion {
			rewritten++
		}
	}
	if total != 6 || rewritten != 1 || len(after) > 3 {
		t.Fatalf("after removing one pod: %d endpoints, %d slices rewritten, %d slices", total, rewritten, len(after))
	}

	// Every pod goes: one empty placeholder slice is left.
	for i := 1; i < 7; i++ {
		if err := f.Set.Pods("default").Delete(f.Ctx, fmt.Sprintf("p%d", i), metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
	}
	f.Eventually("pods gone from cache", func() bool { return len(f.Inf.Pods().GetIndexer().ListKeys()) == 0 })
	deadline := time.Now().Add(10 * time.Second)
	var last []discoveryv1.EndpointSlice
	for time.Now().Before(deadline) {
		last = f.syncSettled(t)
		if len(last) == 1 && len(last[0].Endpoints) == 0 {
			return
		}
	}
	t.Fatalf("want one placeholder slice, have %d", len(last))
}
