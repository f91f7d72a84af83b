package deployment_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/deployment"
	"kserver.dev/kserver/internal/e2e"
)

// laggingCache creates d and a controller whose informers are never
// started: the caches hold only d as created and what the test adds,
// standing for informers that lag the server.
func laggingCache(t *testing.T, d *appsv1.Deployment) (*controllertest.Env, *deployment.Controller, *appsv1.Deployment) {
	t.Helper()
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, deployment.Component)
	t.Cleanup(b.Shutdown)
	dc := deployment.New(deployment.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})
	d, err := env.Set.Deployments(d.Namespace).Create(env.Ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Inf.Deployments().GetIndexer().Add(d); err != nil {
		t.Fatal(err)
	}
	return env, dc, d
}

// TestNewReplicaSetNotYetCached: a sync that runs before the informer has
// seen the replica set an earlier sync created gets AlreadyExists on
// create. That is the deployment's own replica set, not a hash collision:
// collisionCount must stay unset and no second replica set appear.
func TestNewReplicaSetNotYetCached(t *testing.T) {
	env, dc, d := laggingCache(t, newDeployment("lag", 2, "nginx:1.25"))
	name := deployment.NewReplicaSetName(d)
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = name[len("lag-"):]
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = name[len("lag-"):]
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2), Selector: sel, Template: *tmpl},
	}
	if _, err := env.Set.ReplicaSets("default").Create(env.Ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	_ = dc.Sync(env.Ctx, "default/lag")
	got, err := env.Set.Deployments("default").Get(env.Ctx, "lag", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.CollisionCount != nil {
		t.Fatalf("cache lag taken for a hash collision: collisionCount %d", *got.Status.CollisionCount)
	}
	l, err := env.Set.ReplicaSets("default").List(env.Ctx, metav1.ListOptions{LabelSelector: "app=lag"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].Name != name {
		t.Fatalf("replica sets %v, want only %s", l.Items, name)
	}
}

// TestSyncKeepsAnnotationsAddedSinceCacheRead: a sync working from a
// cached deployment older than the stored one writes the revision and then
// status; neither may drop an annotation added in between (kubectl
// annotate … kubernetes.io/change-cause right after set image).
func TestSyncKeepsAnnotationsAddedSinceCacheRead(t *testing.T) {
	env, dc, d := laggingCache(t, newDeployment("stale", 1, "nginx:1.25")) // the cache: before the annotation
	cur := d.DeepCopy()
	cur.Annotations = map[string]string{"kubernetes.io/change-cause": "image updated"}
	if _, err := env.Set.Deployments("default").Update(env.Ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	_ = dc.Sync(env.Ctx, "default/stale")
	got, err := env.Set.Deployments("default").Get(env.Ctx, "stale", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations["kubernetes.io/change-cause"] != "image updated" {
		t.Fatalf("annotation lost by the sync: %v", got.Annotations)
	}
	if got.Annotations[deployment.RevisionAnnotation] != "1" {
		t.Fatalf("revision annotation %v", got.Annotations)
	}
}
