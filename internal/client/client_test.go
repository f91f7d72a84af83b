package client_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/e2e"
)

func TestTypedClientsInformersAndEvents(t *testing.T) {
	cl := e2e.Start(t)
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Typed CRUD, with protobuf bodies over HTTPS.
	cms := set.ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c1"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.ResourceVersion == "" || cm.UID == "" {
		t.Fatalf("create returned no metadata: %+v", cm.ObjectMeta)
	}
	if _, err := cms.Get(ctx, "missing", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing: want NotFound, got %v", err)
	}

	// A shared informer sees the existing object and later changes.
	inf := client.NewInformers(set, 0)
	if again := inf.ConfigMaps(); again != inf.ConfigMaps() {
		t.Fatal("informers are not shared")
	}
	lister := corelisters.NewConfigMapLister(inf.ConfigMaps().GetIndexer())
	deleted := make(chan string, 1)
	_, _ = inf.ConfigMaps().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if m, ok := obj.(*corev1.ConfigMap); ok {
				deleted <- m.Name
			}
		},
	})
	inf.Start(ctx)
	if !inf.WaitForCacheSync(ctx) {
		t.Fatal("informers did not sync")
	}
	if got, err := lister.ConfigMaps("default").Get("c1"); err != nil || got.Data["k"] != "v" {
		t.Fatalf("lister after sync: %v %v", got, err)
	}
	cm.Data["k"] = "v2"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "update in cache", func() bool {
		got, err := lister.ConfigMaps("default").Get("c1")
		return err == nil && got.Data["k"] == "v2"
	})
	if err := cms.Delete(ctx, "c1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-deleted:
		if name != "c1" {
			t.Fatalf("deleted %q", name)
		}
	case <-ctx.Done():
		t.Fatal("no delete event")
	}

	// Events recorded for an object show up in the API.
	rec, b := client.NewRecorder(set, "test-controller")
	defer b.Shutdown()
	ref := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c1", Namespace: "default", UID: cm.UID}}
	rec.Event(ref, corev1.EventTypeNormal, "Tested", "recorded by the test")
	waitFor(ctx, t, "event", func() bool {
		evs, err := set.Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=c1"})
		if err != nil || len(evs.Items) == 0 {
			return false
		}
		e := evs.Items[0]
		return e.Reason == "Tested" && e.Source.Component == "test-controller" && e.InvolvedObject.Kind == "ConfigMap"
	})
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestBind(t *testing.T) {
	cl := e2e.Start(t)
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p1", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := set.Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = set.Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: "p1", Namespace: "default"},
		Target:     corev1.ObjectReference{Kind: "Node", Name: "node-a"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := set.Pods("default").Get(ctx, "p1", metav1.GetOptions{})
	if err != nil || got.Spec.NodeName != "node-a" {
		t.Fatalf("after bind: nodeName %q, %v", got.Spec.NodeName, err)
	}
	// A second binding is refused, as upstream (409 Conflict).
	err = set.Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: "p1", Namespace: "default"},
		Target:     corev1.ObjectReference{Kind: "Node", Name: "node-b"},
	})
	if !apierrors.IsConflict(err) {
		t.Fatalf("second bind: want Conflict, got %v", err)
	}
}
