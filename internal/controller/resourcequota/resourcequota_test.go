package resourcequota_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/resourcequota"
	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/quota"
)

func TestQuotaUsageAndAdmission(t *testing.T) {
	cfg := e2e.Start(t).RestConfig(t)
	cfg.QPS = -1
	env := controllertest.New(t, cfg)
	c := resourcequota.New(resourcequota.Config{Set: env.Set, Informers: env.Inf})
	env.Start()
	if err := c.Discover(env.Ctx); err != nil {
		t.Fatal(err)
	}
	pod := func(name, cpu string) error {
		res := corev1.ResourceRequirements{}
		if cpu != "" {
			res.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
		}
		_, err := env.Set.Pods("default").Create(env.Ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx", Resources: res}}}}, metav1.CreateOptions{})
		return err
	}
	status := func() string {
		t.Helper()
		if err := c.Sync(env.Ctx, "default/q"); err != nil {
			t.Fatal(err)
		}
		q, err := env.Set.ResourceQuotas("default").Get(env.Ctx, "q", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.ResourceQuotas(), q)
		return "hard " + quota.String(q.Status.Hard) + " used " + quota.String(q.Status.Used)
	}

	if err := pod("before", "200m"); err != nil {
		t.Fatal(err)
	}
	_, err := env.Set.ResourceQuotas("default").Create(env.Ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			"pods": resource.MustParse("2"), "requests.cpu": resource.MustParse("1"), "count/deployments.apps": resource.MustParse("1"),
		}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Eventually("pod in cache", func() bool { _, ok, _ := env.Inf.Pods().GetIndexer().GetByKey("default/before"); return ok })
	// The first pass creates the deployments informer; the next one counts.
	env.Eventually("quota status", func() bool {
		return status() == "hard count/deployments.apps=1,pods=2,requests.cpu=1 used count/deployments.apps=0,pods=1,requests.cpu=200m"
	})

	err = pod("nocpu", "")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `pods "nocpu" is forbidden: failed quota: q: must specify requests.cpu for: c`) {
		t.Fatalf("pod without cpu request: %v", err)
	}
	if err := pod("second", "500m"); err != nil {
		t.Fatalf("pod within quota: %v", err)
	}
	err = pod("third", "100m")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `pods "third" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`) {
		t.Fatalf("pod over quota: %v", err)
	}
	// Dry runs are checked but charge nothing.
	if _, err := env.Set.Deployments("default").Create(env.Ctx, deployment("d0"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Set.Deployments("default").Create(env.Ctx, deployment("d1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Set.Deployments("default").Create(env.Ctx, deployment("d2"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("second deployment over count/deployments.apps=1: %v", err)
	}

	// A pod goes: the controller gives its share back.
	if err := env.Set.Pods("default").Delete(env.Ctx, "before", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	env.Gone(env.Inf.Pods(), "default/before")
	env.Eventually("deployment in cache", func() bool {
		return status() == "hard count/deployments.apps=1,pods=2,requests.cpu=1 used count/deployments.apps=1,pods=1,requests.cpu=500m"
	})
	if err := pod("third", "100m"); err != nil {
		t.Fatalf("pod after another went: %v", err)
	}
}

func deployment(name string) *appsv1.Deployment {
	lbl := map[string]string{"app": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: lbl},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}
}
