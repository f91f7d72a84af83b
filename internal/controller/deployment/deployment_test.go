package deployment_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/deployment"
	"kserver.dev/kserver/internal/controller/replicaset"
	"kserver.dev/kserver/internal/e2e"
)

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	lbl := map[string]string{"app": name}
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &one, MaxUnavailable: &zero}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

type fixture struct {
	*controllertest.Env
	dc *deployment.Controller
	rc *replicaset.Controller
}

func setup(t *testing.T) *fixture {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	drec, b1 := client.NewRecorder(env.Set, deployment.Component)
	rrec, b2 := client.NewRecorder(env.Set, replicaset.Component)
	t.Cleanup(b1.Shutdown)
	t.Cleanup(b2.Shutdown)
	f := &fixture{Env: env,
		dc: deployment.New(deployment.Config{Set: env.Set, Informers: env.Inf, Recorder: drec}),
		rc: replicaset.New(replicaset.Config{Set: env.Set, Informers: env.Inf, Recorder: rrec}),
	}
	env.Start()
	go func() { _ = f.rc.Run(env.Ctx, 1) }()
	return f
}

func (f *fixture) sync(key string) {
	f.T.Helper()
	if err := f.dc.Sync(f.Ctx, key); err != nil {
		f.T.Fatalf("sync %s: %v", key, err)
	}
}

func (f *fixture) get(name string) *appsv1.Deployment {
	f.T.Helper()
	d, err := f.Set.Deployments("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	return d
}

func (f *fixture) replicaSets(name string) []appsv1.ReplicaSet {
	f.T.Helper()
	l, err := f.Set.ReplicaSets("default").List(f.Ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		f.T.Fatal(err)
	}
	return l.Items
}

func cond(d *appsv1.Deployment, t appsv1.DeploymentConditionType) appsv1.DeploymentCondition {
	for _, c := range d.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return appsv1.DeploymentCondition{}
}

func TestDeploymentCreatesReplicaSetAndRollsOut(t *testing.T) {
	f := setup(t)
	d, err := f.Set.Deployments("default").Create(f.Ctx, newDeployment("web", 3, "nginx:1.25"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Deployments(), d)
	f.sync("default/web")

	rss := f.replicaSets("web")
	if len(rss) != 1 {
		t.Fatalf("want 1 replica set, got %d", len(rss))
	}
	rs := rss[0]
	hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if hash == "" || rs.Name != "web-"+hash || rs.Spec.Selector.MatchLabels["pod-template-hash"] != hash ||
		rs.Spec.Template.Labels["pod-template-hash"] != hash {
		t.Fatalf("replica set %s labels %v selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
	}
	if *rs.Spec.Replicas != 3 || rs.Annotations[deployment.RevisionAnnotation] != "1" ||
		rs.Annotations[deployment.DesiredReplicasAnnotation] != "3" || rs.Annotations[deployment.MaxReplicasAnnotation] != "4" {
		t.Fatalf("replica set spec.replicas %d annotations %v", *rs.Spec.Replicas, rs.Annotations)
	}
	if ref := metav1.GetControllerOf(&rs); ref == nil || ref.UID != d.UID || ref.Kind != "Deployment" {
		t.Fatalf("replica set owner %+v", rs.OwnerReferences)
	}
	got := f.get("web")
	if got.Annotations[deployment.RevisionAnnotation] != "1" {
		t.Fatalf("deployment annotations %v", got.Annotations)
	}
	if c := cond(got, appsv1.DeploymentProgressing); c.Reason != "NewReplicaSetCreated" || c.Message != `Created new replica set "`+rs.Name+`"` {
		t.Fatalf("progressing condition %+v", c)
	}
	f.WaitEvent("default", "Deployment", "web", "Normal ScalingReplicaSet Scaled up replica set "+rs.Name+" from 0 to 3")

	// The ReplicaSet controller (running) makes the pods; they become ready.
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	f.Eventually("3 pods", func() bool { return len(f.Pods("default", sel)) == 3 })
	pods := f.Pods("default", sel)
	if pods[0].Labels["pod-template-hash"] != hash {
		t.Fatalf("pod labels %v", pods[0].Labels)
	}
	for i := range pods {
		f.SetPodStatus(&pods[i], corev1.PodRunning, true)
	}
	f.Eventually("replica set available", func() bool {
		r, err := f.Set.ReplicaSets("default").Get(f.Ctx, rs.Name, metav1.GetOptions{})
		return err == nil && r.Status.AvailableReplicas == 3
	})
	rsNow, _ := f.Set.ReplicaSets("default").Get(f.Ctx, rs.Name, metav1.GetOptions{})
	f.Cached(f.Inf.ReplicaSets(), rsNow)
	f.Cached(f.Inf.Deployments(), f.get("web"))
	f.sync("default/web")
	got = f.get("web")
	st := got.Status
	if st.Replicas != 3 || st.UpdatedReplicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.ObservedGeneration != got.Generation {
		t.Fatalf("status %+v", st)
	}
	if c := cond(got, appsv1.DeploymentAvailable); c.Status != corev1.ConditionTrue || c.Reason != "MinimumReplicasAvailable" {
		t.Fatalf("available condition %+v", c)
	}
	if c := cond(got, appsv1.DeploymentProgressing); c.Reason != "NewReplicaSetAvailable" || c.Message != `ReplicaSet "`+rs.Name+`" has successfully progressed.` {
		t.Fatalf("progressing condition %+v", c)
	}

	// A new template with a change-cause: a second ReplicaSet, surged by one.
	got.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	got.Annotations["kubernetes.io/change-cause"] = "image 1.26"
	got, err = f.Set.Deployments("default").Update(f.Ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Deployments(), got)
	f.sync("default/web")
	rss = f.replicaSets("web")
	if len(rss) != 2 {
		t.Fatalf("want 2 replica sets, got %d", len(rss))
	}
	for _, r := range rss {
		if r.Name == rs.Name {
			if *r.Spec.Replicas != 3 {
				t.Fatalf("old replica set scaled to %d before the new one is available", *r.Spec.Replicas)
			}
			continue
		}
		if *r.Spec.Replicas != 1 || r.Annotations[deployment.RevisionAnnotation] != "2" || r.Annotations["kubernetes.io/change-cause"] != "image 1.26" {
			t.Fatalf("new replica set replicas %d annotations %v", *r.Spec.Replicas, r.Annotations)
		}
		f.WaitEvent("default", "Deployment", "web", "Scaled up replica set "+r.Name+" from 0 to 1")
	}
	if f.get("web").Annotations[deployment.RevisionAnnotation] != "2" {
		t.Fatal("deployment revision not 2")
	}
}
