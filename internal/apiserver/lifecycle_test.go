package apiserver

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

func TestFinalizersKeepObjectsUntilRemoved(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cms := clientset(t, ts.admin).CoreV1().ConfigMaps("default")
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil || cm.DeletionTimestamp == nil {
		t.Fatalf("after delete with a finalizer: %v %+v", err, cm)
	}
	// New finalizers may not be added... removing the last one deletes it.
	if _, err := cms.Patch(ctx, "held", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after removing the finalizer: %v", err)
	}
	// Preconditions.
	c2, _ := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pre"}}, metav1.CreateOptions{})
	wrong := types.UID("nope")
	err = cms.Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrong}})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "Precondition failed: UID in precondition: nope") {
		t.Errorf("precondition: %v", err)
	}
	if err := cms.Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &c2.UID}}); err != nil {
		t.Errorf("matching precondition: %v", err)
	}
}

func TestNamespaceTermination(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := clientset(t, ts.admin)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	makeConfigMaps(t, cs, "doomed", 3)
	w, err := cs.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=doomed"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := cs.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		select {
		case ev := <-w.ResultChan():
			done = ev.Type == watch.Deleted
		case <-ctx.Done():
			t.Fatal("namespace never went away")
		}
	}
	l, err := cs.CoreV1().ConfigMaps("doomed").List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 0 {
		t.Errorf("content left in a deleted namespace: %v %d", err, len(l.Items))
	}
	err = cs.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "this namespace may not be deleted") {
		t.Errorf("deleting default: %v", err)
	}
}

func TestDeleteCollection(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	makeConfigMaps(t, cs, "default", 4)
	if err := cs.CoreV1().ConfigMaps("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "parity=even"}); err != nil {
		t.Fatal(err)
	}
	l, _ := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	var names []string
	for _, cm := range l.Items {
		names = append(names, cm.Name)
	}
	if strings.Join(names, ",") != "cm-01,cm-03" {
		t.Errorf("left after deletecollection: %v", names)
	}
}

func TestServerSideApply(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cms := clientset(t, ts.admin).CoreV1().ConfigMaps("default")
	apply := func(manager string, force bool, body string) (*corev1.ConfigMap, error) {
		return cms.Patch(ctx, "cfg", types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: manager, Force: &force})
	}
	cm, err := apply("alice", false, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["a"] != "1" || len(cm.ManagedFields) != 1 || cm.ManagedFields[0].Manager != "alice" || cm.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("first apply: %+v", cm)
	}
	_, err = apply("bob", false, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"2"}}`)
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `Apply failed with 1 conflict: conflict with "alice": .data.a`) {
		t.Fatalf("conflicting apply: %v", err)
	}
	cm, err = apply("bob", true, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"2"}}`)
	if err != nil || cm.Data["a"] != "2" {
		t.Fatalf("forced apply: %v %+v", err, cm)
	}
	// Apply without a field manager is 422; force on a merge patch too.
	_, err = cms.Patch(ctx, "cfg", types.ApplyPatchType, []byte(`{"apiVersion":"v1","kind":"ConfigMap"}`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "fieldManager: Required value: is required for apply patch") {
		t.Errorf("apply without manager: %v", err)
	}
	force := true
	_, err = cms.Patch(ctx, "cfg", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{Force: &force})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "force: Forbidden: may not be specified for non-apply patch") {
		t.Errorf("force on merge patch: %v", err)
	}
	// A merge patch on a missing object is 404.
	_, err = cms.Patch(ctx, "missing", types.MergePatchType, []byte(`{"data":{"x":"y"}}`), metav1.PatchOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("patch of missing object: %v", err)
	}
}

func TestGracefulPodDeletion(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	pods := clientset(t, ts.admin).CoreV1().Pods("default")
	// Unscheduled pods go at once.
	if _, err := pods.Create(ctx, testPod("loose", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "loose", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "loose", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("unscheduled pod after delete: %v", err)
	}
	// Bound pods wait for the node agent.
	p := testPod("bound", nil)
	p.Spec.NodeName = "node1"
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	grace := int64(5)
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(ctx, "bound", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil || *got.DeletionGracePeriodSeconds != 5 {
		t.Fatalf("bound pod after delete: %v %+v", err, got)
	}
}

func TestNamespaceFinalize(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	nss := clientset(t, ts.admin).CoreV1().Namespaces()
	ns, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fin"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Spec.Finalizers) != 1 || ns.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("new namespace = %+v %+v", ns.Spec, ns.Status)
	}
	ns.Spec.Finalizers = nil
	ns.Labels = map[string]string{"ignored": "yes"}
	got, err := nss.Finalize(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Finalizers) != 0 || got.Labels["ignored"] != "" {
		t.Errorf("finalize changed %+v / labels %v", got.Spec, got.Labels)
	}
	// Without spec finalizers the namespace goes at once.
	if err := nss.Delete(ctx, "fin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := nss.Get(ctx, "fin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
}

func TestCascadeOrphanAndForeground(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := clientset(t, ts.admin)
	cms := cs.CoreV1().ConfigMaps("default")
	mkOwner := func(name string) *corev1.ConfigMap {
		o, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		block := true
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name + "-dep", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "v1", Kind: "ConfigMap", Name: name, UID: o.UID, BlockOwnerDeletion: &block}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	gone := func(name string) {
		t.Helper()
		w, err := cms.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if _, err := cms.Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		for {
			select {
			case ev := <-w.ResultChan():
				if ev.Type == watch.Deleted {
					return
				}
			case <-ctx.Done():
				t.Fatalf("%s was never deleted", name)
			}
		}
	}
	orphan := metav1.DeletePropagationOrphan
	mkOwner("o")
	if err := cms.Delete(ctx, "o", metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
		t.Fatal(err)
	}
	gone("o")
	dep, err := cms.Get(ctx, "o-dep", metav1.GetOptions{})
	if err != nil || len(dep.OwnerReferences) != 0 {
		t.Errorf("orphaned dependent: %v %+v", err, dep)
	}

	fg := metav1.DeletePropagationForeground
	mkOwner("f")
	if err := cms.Delete(ctx, "f", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	gone("f-dep")
	gone("f")
}
