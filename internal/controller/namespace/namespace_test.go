package namespace_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/namespace"
	"kserver.dev/kserver/internal/e2e"
)

func TestNamespaceDeletionDeletesContentThenNamespace(t *testing.T) {
	cl := e2e.Start(t)
	cl.API.SetLifecycleControllers(true) // this test's controller does the work
	cfg := cl.RestConfig(t)
	cfg.QPS = -1 // a pass makes a few calls per resource type; no client-side throttling
	env := controllertest.New(t, cfg)
	c := namespace.New(namespace.Config{Set: env.Set, Informers: env.Inf})
	env.Start()
	if err := c.Discover(env.Ctx); err != nil {
		t.Fatal(err)
	}
	const ns = "team"
	if _, err := env.Set.Namespaces().Create(env.Ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustCreate := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := env.Set.ConfigMaps(ns).Create(env.Ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = env.Set.ConfigMaps(ns).Create(env.Ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held",
		Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = env.Set.Deployments(ns).Create(env.Ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}, metav1.CreateOptions{})
	mustCreate(err)
	// A pod on a node keeps its grace period: it stays Terminating until
	// its node agent (here: the test) finishes it.
	_, err = env.Set.Pods(ns).Create(env.Ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}, metav1.CreateOptions{})
	mustCreate(err)

	if err := env.Set.Namespaces().Delete(env.Ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Eventually("terminating namespace in cache", func() bool {
		o, ok, _ := env.Inf.Namespaces().GetIndexer().GetByKey(ns)
		return ok && o.(*corev1.Namespace).DeletionTimestamp != nil
	})
	if err := c.Sync(env.Ctx, ns); err != nil {
		t.Fatal(err)
	}
	got, err := env.Set.Namespaces().Get(env.Ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conds := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	for _, c := range got.Status.Conditions {
		conds[c.Type] = c
	}
	if got.Status.Phase != corev1.NamespaceTerminating || len(conds) != 5 {
		t.Fatalf("namespace status: %+v", got.Status)
	}
	want := map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "False ResourcesDiscovered All resources successfully discovered",
		corev1.NamespaceDeletionContentFailure:   "False ContentDeleted All content successfully deleted, may be waiting on finalization",
		corev1.NamespaceContentRemaining:         "True SomeResourcesRemain Some resources are remaining: configmaps. has 1 resource instances, pods. has 1 resource instances",
		corev1.NamespaceFinalizersRemaining:      "True SomeFinalizerRemain Some finalizers are remaining: example.com/hold in 1 resource instances",
	}
	for typ, w := range want {
		c := conds[typ]
		if got := string(c.Status) + " " + c.Reason + " " + c.Message; got != w {
			t.Errorf("%s:\n got %s\nwant %s", typ, got, w)
		}
	}
	for _, gone := range []func() error{
		func() error { _, err := env.Set.ConfigMaps(ns).Get(env.Ctx, "plain", metav1.GetOptions{}); return err },
		func() error { _, err := env.Set.Deployments(ns).Get(env.Ctx, "web", metav1.GetOptions{}); return err },
	} {
		if err := gone(); !apierrors.IsNotFound(err) {
			t.Fatalf("content left after the first pass: %v", err)
		}
	}

	// The finalizer is released and the pod's agent finishes it: the next
	// pass finalizes the namespace and it goes.
	held, err := env.Set.ConfigMaps(ns).Get(env.Ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	held.Finalizers = nil
	if _, err := env.Set.ConfigMaps(ns).Update(env.Ctx, held, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Set.Pods(ns).Delete(env.Ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(env.Ctx, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Set.Namespaces().Get(env.Ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace after its content went: %v", err)
	}
}
