package disruption_test

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/disruption"
	"kserver.dev/kserver/internal/e2e"
)

func TestBudgetStatusAndEvictions(t *testing.T) {
	cfg := e2e.Start(t).RestConfig(t)
	cfg.QPS = -1
	env := controllertest.New(t, cfg)
	rec, b := client.NewRecorder(env.Set, disruption.Component)
	defer b.Shutdown()
	c := disruption.New(disruption.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})
	env.Start()
	lbl := map[string]string{"app": "web"}
	d, err := env.Set.Deployments("default").Create(env.Ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](4), Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Cached(env.Inf.Deployments(), d)
	rs, err := env.Set.ReplicaSets("default").Create(env.Ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1",
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](4), Selector: &metav1.LabelSelector{MatchLabels: lbl}, Template: d.Spec.Template}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Cached(env.Inf.ReplicaSets(), rs)
	var last *corev1.Pod
	for i := range 3 { // 3 of 4 pods exist, 2 of them ready
		p, err := env.Set.Pods("default").Create(env.Ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Labels: lbl,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
			Spec: d.Spec.Template.Spec}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		last = env.SetPodStatus(p, corev1.PodRunning, i < 2)
	}
	env.Cached(env.Inf.Pods(), last)

	status := func(name string) policyv1.PodDisruptionBudgetStatus {
		t.Helper()
		if err := c.Sync(env.Ctx, "default/"+name); err != nil {
			t.Fatal(err)
		}
		p, err := env.Set.PodDisruptionBudgets("default").Get(env.Ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.PodDisruptionBudgets(), p)
		return p.Status
	}
	create := func(name string, spec policyv1.PodDisruptionBudgetSpec) {
		t.Helper()
		spec.Selector = &metav1.LabelSelector{MatchLabels: lbl}
		p, err := env.Set.PodDisruptionBudgets("default").Create(env.Ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.PodDisruptionBudgets(), p)
	}
	summary := func(s policyv1.PodDisruptionBudgetStatus) string {
		cond := apimeta.FindStatusCondition(s.Conditions, policyv1.DisruptionAllowedCondition)
		return fmt.Sprintf("expected=%d healthy=%d desired=%d allowed=%d %s/%s", s.ExpectedPods, s.CurrentHealthy,
			s.DesiredHealthy, s.DisruptionsAllowed, cond.Status, cond.Reason)
	}

	// An integer minAvailable counts the pods there are.
	create("min", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1))})
	if got := summary(status("min")); got != "expected=3 healthy=2 desired=1 allowed=1 True/SufficientPods" {
		t.Fatalf("minAvailable 1: %s", got)
	}
	// A percentage counts the Deployment's replicas (4), rounding up.
	create("pct", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromString("25%"))})
	if got := summary(status("pct")); got != "expected=4 healthy=2 desired=3 allowed=0 False/InsufficientPods" {
		t.Fatalf("maxUnavailable 25%%: %s", got)
	}
	if err := env.Set.PodDisruptionBudgets("default").Delete(env.Ctx, "pct", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// The eviction subresource takes the one allowed disruption, then
	// refuses with 429 until the budget allows again.
	evict := func(pod string) error {
		return env.Set.Evict(env.Ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: "default"}})
	}
	if err := evict("web-0"); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	if err := evict("web-1"); !apierrors.IsTooManyRequests(err) {
		t.Fatalf("second eviction: want 429, got %v", err)
	}
	env.Gone(env.Inf.Pods(), "default/web-0")
	if got := summary(status("min")); got != "expected=2 healthy=1 desired=1 allowed=0 False/InsufficientPods" {
		t.Fatalf("after one eviction: %s", got)
	}
	if err := evict("web-1"); !apierrors.IsTooManyRequests(err) {
		t.Fatalf("eviction below minAvailable: want 429, got %v", err)
	}
}
