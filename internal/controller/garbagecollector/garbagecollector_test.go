package garbagecollector_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/garbagecollector"
	"kserver.dev/kserver/internal/e2e"
)

type fixture struct {
	*controllertest.Env
	t  *testing.T
	gc *garbagecollector.Controller
}

func newFixture(t *testing.T) *fixture {
	cl := e2e.Start(t)
	cl.API.SetLifecycleControllers(true) // the collector under test does the work
	cfg := cl.RestConfig(t)
	cfg.QPS = -1
	env := controllertest.New(t, cfg)
	env.Inf.Pods() // a typed informer the collector must share, not duplicate
	rec, b := client.NewRecorder(env.Set, garbagecollector.Component)
	t.Cleanup(b.Shutdown)
	gc := garbagecollector.New(garbagecollector.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})
	if err := gc.Start(env.Ctx); err != nil {
		t.Fatal(err)
	}
	env.Start()
	if !cache.WaitForCacheSync(env.Ctx.Done(), gc.Synced()...) {
		t.Fatal("collector informers did not sync")
	}
	return &fixture{Env: env, t: t, gc: gc}
}

// settle steps the collector until cond holds.
func (f *fixture) settle(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(controllertest.Timeout)
	for time.Now().Before(deadline) {
		if _, err := f.gc.Step(f.Ctx); err != nil {
			f.t.Fatalf("%s: %v", what, err)
		}
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("timed out waiting for %s", what)
}

func ref(o metav1.Object, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: o.GetName(), UID: o.GetUID(), BlockOwnerDeletion: ptr.To(block)}
}

func (f *fixture) cm(name string, finalizers []string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	f.t.Helper()
	c, err := f.Set.ConfigMaps("default").Create(f.Ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, Finalizers: finalizers, OwnerReferences: owners}}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) get(name string) (*corev1.ConfigMap, bool) {
	c, err := f.Set.ConfigMaps("default").Get(f.Ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return c, true
}

func (f *fixture) gone(name string) func() bool {
	return func() bool { _, ok := f.get(name); return !ok }
}

func (f *fixture) del(name string, p metav1.DeletionPropagation) {
	f.t.Helper()
	if err := f.Set.ConfigMaps("default").Delete(f.Ctx, name, metav1.DeleteOptions{PropagationPolicy: &p}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) unhold(name string) {
	f.t.Helper()
	c, _ := f.get(name)
	c.Finalizers = nil
	if _, err := f.Set.ConfigMaps("default").Update(f.Ctx, c, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func TestBackgroundDeletionAndDanglingReferences(t *testing.T) {
	f := newFixture(t)
	owner := f.cm("owner", nil)
	other := f.cm("other", nil)
	f.cm("dep", nil, ref(owner, true))
	f.cm("shared", nil, ref(owner, false), ref(other, false))
	pod, err := f.Set.Pods("default").Create(f.Ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", OwnerReferences: []metav1.OwnerReference{ref(owner, true)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.Pods(), pod)

	f.del("owner", metav1.DeletePropagationBackground)
	f.settle("dependents of a deleted owner to go", func() bool {
		_, err := f.Set.Pods("default").Get(f.Ctx, "p", metav1.GetOptions{})
		return f.gone("dep")() && apierrors.IsNotFound(err)
	})
	f.settle("the shared dependent to lose only the gone owner", func() bool {
		c, ok := f.get("shared")
		return ok && len(c.OwnerReferences) == 1 && c.OwnerReferences[0].UID == other.UID
	})

	// A dependent naming an owner that never existed goes too.
	f.cm("stray", nil, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "ghost", UID: types.UID("no-such-uid")})
	f.settle("a dependent of a missing owner to go", f.gone("stray"))
}

func TestForegroundDeletionWaitsForBlockingDependents(t *testing.T) {
	f := newFixture(t)
	owner := f.cm("owner", nil)
	f.cm("blocker", []string{"example.com/hold"}, ref(owner, true))
	f.cm("free", nil, ref(owner, false))

	f.del("owner", metav1.DeletePropagationForeground)
	f.settle("dependents to be deleted", func() bool {
		b, ok := f.get("blocker")
		return f.gone("free")() && ok && b.DeletionTimestamp != nil
	})
	o, ok := f.get("owner")
	if !ok || o.DeletionTimestamp == nil || len(o.Finalizers) != 1 || o.Finalizers[0] != metav1.FinalizerDeleteDependents {
		t.Fatalf("owner while a blocking dependent remains: %+v", o)
	}
	f.unhold("blocker")
	f.settle("the owner to go once its blocking dependent has", f.gone("owner"))
}

func TestOrphanDeletionKeepsDependents(t *testing.T) {
	f := newFixture(t)
	owner := f.cm("owner", nil)
	other := f.cm("other", nil)
	f.cm("dep", nil, ref(owner, true), ref(other, false))
	f.del("owner", metav1.DeletePropagationOrphan)
	f.settle("the owner to go", f.gone("owner"))
	d, ok := f.get("dep")
	if !ok || len(d.OwnerReferences) != 1 || d.OwnerReferences[0].UID != other.UID {
		t.Fatalf("orphaned dependent: %+v", d)
	}
	// An owner with nothing to orphan still loses its finalizer.
	f.cm("lonely", nil)
	f.del("lonely", metav1.DeletePropagationOrphan)
	f.settle("an owner without dependents to go", f.gone("lonely"))
}

func TestGraphHoldsOnlyObjectsThatTakePart(t *testing.T) {
	f := newFixture(t)
	for i := range 20 {
		f.cm(fmt.Sprintf("plain-%d", i), nil)
	}
	owner := f.cm("owner", nil)
	f.cm("dep", nil, ref(owner, true))
	f.settle("graph to hold the owner and its dependent", func() bool { return f.gc.GraphSize() == 2 })
	f.del("owner", metav1.DeletePropagationBackground)
	f.settle("the graph to empty", func() bool { return f.gone("dep")() && f.gc.GraphSize() == 0 })
}
