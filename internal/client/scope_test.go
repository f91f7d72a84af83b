package client_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/e2e"
)

func TestScopeRemovesHandlersAndKeepsInformersRunning(t *testing.T) {
	cl := e2e.Start(t)
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	root, cancelRoot := context.WithCancel(context.Background())
	defer cancelRoot()
	f := client.NewInformers(set, 0)

	var seen atomic.Int32
	scope := f.Scope(root)
	_, _ = scope.ConfigMaps().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { seen.Add(1) },
	})
	// A component started with a short context: the informer must run on
	// root regardless.
	short, cancelShort := context.WithCancel(context.Background())
	scope.Start(short)
	cancelShort()
	if !scope.WaitForCacheSync(root) {
		t.Fatal("no sync")
	}
	cms := set.ConfigMaps("default")
	if _, err := cms.Create(root, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(root, t, "handler to see a", func() bool { return seen.Load() > 0 })

	scope.Close()
	before := seen.Load()
	if _, err := cms.Create(root, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The shared informer still runs (its cache gets b) but the closed
	// scope's handler no longer fires.
	waitFor(root, t, "cache to hold b", func() bool {
		_, ok, _ := f.ConfigMaps().GetIndexer().GetByKey("default/b")
		return ok
	})
	if got := seen.Load(); got != before {
		t.Fatalf("handler of a closed scope fired: %d → %d", before, got)
	}
}

func TestMetadataInformerTrimsAndForMetadataReusesTyped(t *testing.T) {
	cl := e2e.Start(t)
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := client.NewInformers(set, 0)
	secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{"a": "b"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "o", UID: "u1"}}},
		StringData: map[string]string{"k": "v"}}
	if _, err := set.Secrets("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	inf := f.MetadataInformer(secrets)
	if f.ForMetadata(secrets) != inf {
		t.Fatal("ForMetadata without a typed informer must give the metadata one")
	}
	f.Start(ctx)
	if !f.WaitForCacheSync(ctx) {
		t.Fatal("no sync")
	}
	o, ok, _ := inf.GetIndexer().GetByKey("default/s")
	if !ok {
		t.Fatal("metadata informer lacks default/s")
	}
	p := o.(*metav1.PartialObjectMetadata)
	if p.UID == "" || len(p.OwnerReferences) != 1 || p.Labels != nil || p.ManagedFields != nil {
		t.Fatalf("trimmed metadata: %+v", p.ObjectMeta)
	}
	typed := f.ConfigMaps()
	if got := f.ForMetadata(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}); got != typed {
		t.Fatal("ForMetadata must reuse the typed informer")
	}

	res, err := set.ServerResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dep, ok := res.ForKind(schema.GroupKind{Group: "apps", Kind: "Deployment"})
	if !ok || dep.GVR.Resource != "deployments" || !dep.Namespaced || !dep.Has("list", "watch", "delete") {
		t.Fatalf("discovery of deployments: %+v %v", dep, ok)
	}
	if n, ok := res.ForResource(schema.GroupResource{Resource: "nodes"}); !ok || n.Namespaced {
		t.Fatalf("discovery of nodes: %+v", n)
	}
}
