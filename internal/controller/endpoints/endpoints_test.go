package endpoints_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/endpoints"
	"kserver.dev/kserver/internal/e2e"
)

// podSpec is a pod the test creates and then drives like a node agent.
type podSpec struct {
	name     string
	ip       string
	ready    bool
	phase    corev1.PodPhase
	httpPort int32 // container port named "http" (0: none)
	host     string
}

func createPod(t *testing.T, env *controllertest.Env, ps podSpec) *corev1.Pod {
	t.Helper()
	c := corev1.Container{Name: "c", Image: "nginx"}
	if ps.httpPort != 0 {
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: ps.httpPort}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: ps.name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{c}, Hostname: ps.host, Subdomain: "web"},
	}
	p, err := env.Set.Pods("default").Create(env.Ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	phase := ps.phase
	if phase == "" {
		phase = corev1.PodRunning
	}
	p.Status.Phase = phase
	if ps.ip != "" {
		p.Status.PodIP = ps.ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ps.ip}}
	}
	st := corev1.ConditionFalse
	if ps.ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.Now()}}
	p, err = env.Set.Pods("default").UpdateStatus(env.Ctx, p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func addresses(as []corev1.EndpointAddress) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.IP+"("+a.TargetRef.Name+")")
	}
	return out
}

func describe(ep *corev1.Endpoints) string {
	s := ""
	for _, ss := range ep.Subsets {
		var ports []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		s += fmt.Sprintf("ports=%v ready=%v notready=%v; ", ports, addresses(ss.Addresses), addresses(ss.NotReadyAddresses))
	}
	return s
}

func TestEndpointsFollowPodsAndService(t *testing.T) {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, endpoints.Component)
	defer b.Shutdown()
	c := endpoints.New(endpoints.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})
	env.Start()

	svc, err := env.Set.Services("default").Create(env.Ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
			{Name: "admin", Port: 9000},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last *corev1.Pod
	for _, ps := range []podSpec{
		{name: "ready", ip: "10.42.0.1", ready: true, httpPort: 8080},
		{name: "unready", ip: "10.42.0.2", httpPort: 8080},
		{name: "noname", ip: "10.42.0.3", ready: true}, // no port named http
		{name: "noip", ready: true, httpPort: 8080},
		{name: "done", ip: "10.42.0.5", phase: corev1.PodSucceeded, httpPort: 8080},
	} {
		last = createPod(t, env, ps)
	}
	env.Cached(env.Inf.Services(), svc)
	env.Cached(env.Inf.Pods(), last)
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	ep, err := env.Set.Endpoints("default").Get(env.Ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "ports=[admin:9000] ready=[10.42.0.3(noname)] notready=[]; " +
		"ports=[admin:9000 http:8080] ready=[10.42.0.1(ready)] notready=[10.42.0.2(unready)]; "
	if got := describe(ep); got != want {
		t.Fatalf("subsets:\n got %s\nwant %s", got, want)
	}
	if ep.Labels["tier"] != "front" || ep.Annotations[corev1.EndpointsLastChangeTriggerTime] == "" {
		t.Fatalf("labels %v annotations %v", ep.Labels, ep.Annotations)
	}
	if a := ep.Subsets[1].Addresses[0]; a.NodeName == nil || *a.NodeName != "n1" || a.TargetRef.Kind != "Pod" {
		t.Fatalf("address %+v", a)
	}

	// Nothing changed: no write.
	env.Cached(env.Inf.Endpoints(), ep)
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	again, _ := env.Set.Endpoints("default").Get(env.Ctx, "web", metav1.GetOptions{})
	if again.ResourceVersion != ep.ResourceVersion {
		t.Fatal("an unchanged sync rewrote the endpoints")
	}

	// publishNotReadyAddresses puts every pod with an IP among the ready.
	svc.Spec.PublishNotReadyAddresses = true
	if svc, err = env.Set.Services("default").Update(env.Ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Cached(env.Inf.Services(), svc)
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	ep, _ = env.Set.Endpoints("default").Get(env.Ctx, "web", metav1.GetOptions{})
	want = "ports=[admin:9000] ready=[10.42.0.3(noname)] notready=[]; " +
		"ports=[admin:9000 http:8080] ready=[10.42.0.1(ready) 10.42.0.2(unready)] notready=[]; "
	if got := describe(ep); got != want {
		t.Fatalf("with publishNotReadyAddresses:\n got %s\nwant %s", got, want)
	}

	// The Service goes: so do its Endpoints.
	if err := env.Set.Services("default").Delete(env.Ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Gone(env.Inf.Services(), "default/web")
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Set.Endpoints("default").Get(env.Ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("endpoints of a deleted service: %v", err)
	}
}

func TestHeadlessServiceHostnamesAndSelectorless(t *testing.T) {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, endpoints.Component)
	defer b.Shutdown()
	c := endpoints.New(endpoints.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})
	env.Start()
	svc, err := env.Set.Services("default").Create(env.Ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := createPod(t, env, podSpec{name: "web-0", ip: "10.42.0.7", ready: true, host: "web-0"})
	env.Cached(env.Inf.Services(), svc)
	env.Cached(env.Inf.Pods(), p)
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	ep, err := env.Set.Endpoints("default").Get(env.Ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ep.Labels[corev1.IsHeadlessService]; !ok || len(ep.Subsets) != 1 ||
		len(ep.Subsets[0].Ports) != 0 || ep.Subsets[0].Addresses[0].Hostname != "web-0" {
		t.Fatalf("headless endpoints: %+v", ep)
	}

	// default/kubernetes has no selector: the API server's Endpoints stay.
	before, err := env.Set.Endpoints("default").Get(env.Ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(env.Ctx, "default/kubernetes"); err != nil {
		t.Fatal(err)
	}
	after, err := env.Set.Endpoints("default").Get(env.Ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("kubernetes endpoints touched: %v", err)
	}
}
