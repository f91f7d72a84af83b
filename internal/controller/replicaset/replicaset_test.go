package replicaset_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/replicaset"
	"kserver.dev/kserver/internal/e2e"
)

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	lbl := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

func TestReplicaSetScalesAdoptsAndReportsStatus(t *testing.T) {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, replicaset.Component)
	defer b.Shutdown()
	c := replicaset.New(replicaset.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})
	env.Start()
	rsInf, podInf := env.Inf.ReplicaSets(), env.Inf.Pods()
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})

	// An orphan pod that matches is adopted rather than duplicated.
	orphan, err := env.Set.Pods("default").Create(env.Ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := env.Set.ReplicaSets("default").Create(env.Ctx, newRS("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Cached(rsInf, rs)
	env.Cached(podInf, orphan)
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	pods := env.Pods("default", sel)
	if len(pods) != 3 {
		t.Fatalf("want 3 pods, got %d", len(pods))
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || !*ref.BlockOwnerDeletion {
			t.Fatalf("pod %s has controller ref %+v", p.Name, ref)
		}
		if p.Name != "orphan" && p.GenerateName != "web-" {
			t.Fatalf("pod %s generateName %q", p.Name, p.GenerateName)
		}
	}
	env.WaitEvent("default", "ReplicaSet", "web", "Normal SuccessfulCreate Created pod: web-")

	// Status follows readiness.
	env.CachedCount(podInf, "default", sel, 3)
	env.SetPodStatus(&pods[0], corev1.PodRunning, true)
	last := env.SetPodStatus(&pods[1], corev1.PodRunning, true)
	env.Cached(podInf, last)
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	got, _ := env.Set.ReplicaSets("default").Get(env.Ctx, "web", metav1.GetOptions{})
	st := got.Status
	if st.Replicas != 3 || st.ReadyReplicas != 2 || st.AvailableReplicas != 2 || st.FullyLabeledReplicas != 3 || st.ObservedGeneration != got.Generation {
		t.Fatalf("status %+v", st)
	}

	// Scaling down deletes the not-ready pod first.
	got.Spec.Replicas = ptr.To[int32](2)
	got, err = env.Set.ReplicaSets("default").Update(env.Ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Cached(rsInf, got)
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	left := env.Pods("default", sel)
	if len(left) != 2 {
		t.Fatalf("after scale down %d pods", len(left))
	}
	for _, p := range left {
		if p.Name == pods[2].Name {
			t.Fatalf("deleted a ready pod instead of the not-ready %s", pods[2].Name)
		}
	}
	env.WaitEvent("default", "ReplicaSet", "web", "Normal SuccessfulDelete Deleted pod: "+pods[2].Name)

	// A pod relabelled out of the selector is released and replaced.
	env.CachedCount(podInf, "default", sel, 2)
	p := left[0]
	p.Labels = map[string]string{"app": "other"}
	upd, err := env.Set.Pods("default").Update(env.Ctx, &p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Cached(podInf, upd)
	if err := c.Sync(env.Ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	released, _ := env.Set.Pods("default").Get(env.Ctx, p.Name, metav1.GetOptions{})
	if metav1.GetControllerOf(released) != nil {
		t.Fatalf("relabelled pod still owned: %+v", released.OwnerReferences)
	}
	if n := len(env.Pods("default", sel)); n != 2 {
		t.Fatalf("after release want 2 matching pods, got %d", n)
	}
}
