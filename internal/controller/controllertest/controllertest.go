// Package controllertest is the fixture the workload controllers' tests
// share: typed clients and shared informers on a running API server (the
// tests start one in-process with internal/e2e), waiting on conditions with
// deadlines, driving pods the way a node agent would (phase, Ready through
// the status subresource) and reading back the Events a controller wrote.
// Only tests import it.
package controllertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
)

// Timeout bounds every wait.
const Timeout = 30 * time.Second

// Env is one test's clients and informers.
type Env struct {
	T   testing.TB
	Ctx context.Context
	Set *client.Set
	Inf *client.Informers
}

// New builds clients for cfg and an informer factory; the test's context
// ends with the test.
func New(t testing.TB, cfg *rest.Config) *Env {
	t.Helper()
	set, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &Env{T: t, Ctx: ctx, Set: set, Inf: client.NewInformers(set, 0)}
}

// Start starts every informer created so far and waits for their caches.
func (e *Env) Start() {
	e.T.Helper()
	e.Inf.Start(e.Ctx)
	ctx, cancel := context.WithTimeout(e.Ctx, Timeout)
	defer cancel()
	if !e.Inf.WaitForCacheSync(ctx) {
		e.T.Fatal("informers did not sync")
	}
}

// Eventually polls cond until it holds or Timeout passes.
func (e *Env) Eventually(what string, cond func() bool) {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(e.Ctx, Timeout)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		e.T.Fatalf("waiting for %s: %v", what, err)
	}
}

// Cached waits until inf's cache holds ns/name with a resourceVersion at
// least as new as obj's (so a following sync reads what the test wrote).
func (e *Env) Cached(inf cache.SharedIndexInformer, obj metav1.Object) {
	e.T.Helper()
	key := obj.GetNamespace() + "/" + obj.GetName()
	if obj.GetNamespace() == "" {
		key = obj.GetName()
	}
	e.Eventually("cache of "+key, func() bool {
		got, ok, _ := inf.GetIndexer().GetByKey(key)
		if !ok {
			return false
		}
		m, err := metaOf(got)
		return err == nil && rvAtLeast(m.GetResourceVersion(), obj.GetResourceVersion())
	})
}

// Gone waits until inf's cache no longer holds key.
func (e *Env) Gone(inf cache.SharedIndexInformer, key string) {
	e.T.Helper()
	e.Eventually("removal of "+key, func() bool {
		_, ok, _ := inf.GetIndexer().GetByKey(key)
		return !ok
	})
}

// CachedCount waits until inf's cache holds exactly n objects in ns
// matching sel.
func (e *Env) CachedCount(inf cache.SharedIndexInformer, ns string, sel labels.Selector, n int) {
	e.T.Helper()
	e.Eventually(fmt.Sprintf("%d objects matching %q in cache", n, sel), func() bool {
		objs, _ := inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
		c := 0
		for _, o := range objs {
			if m, err := metaOf(o); err == nil && sel.Matches(labels.Set(m.GetLabels())) {
				c++
			}
		}
		return c == n
	})
}

func metaOf(o any) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return m, nil
}

func rvAtLeast(have, want string) bool {
	var h, w uint64
	_, _ = fmt.Sscan(have, &h)
	_, _ = fmt.Sscan(want, &w)
	return h >= w
}

// Pods lists the pods in ns matching sel straight from the API.
func (e *Env) Pods(ns string, sel labels.Selector) []corev1.Pod {
	e.T.Helper()
	l, err := e.Set.Pods(ns).List(e.Ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		e.T.Fatal(err)
	}
	return l.Items
}

// SetPodStatus writes pod's status as a node agent would: phase, and for
// Running pods a Ready condition (ready or not) that changes at now.
func (e *Env) SetPodStatus(pod *corev1.Pod, phase corev1.PodPhase, ready bool) *corev1.Pod {
	e.T.Helper()
	for i := 0; ; i++ {
		cur, err := e.Set.Pods(pod.Namespace).Get(e.Ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			e.T.Fatal(err)
		}
		p := cur.DeepCopy()
		p.Status.Phase = phase
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		now := metav1.Now()
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: now}}
		if p.Status.StartTime == nil {
			p.Status.StartTime = &now
		}
		got, err := e.Set.Pods(p.Namespace).UpdateStatus(e.Ctx, p, metav1.UpdateOptions{})
		if err == nil {
			return got
		}
		if i > 5 {
			e.T.Fatalf("set status of pod %s: %v", pod.Name, err)
		}
	}
}

// Events returns the events about the object ns/name of kind as
// "Type Reason Message" lines.
func (e *Env) Events(ns, kind, name string) []string {
	e.T.Helper()
	l, err := e.Set.Events(ns).List(e.Ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + name + ",involvedObject.kind=" + kind})
	if err != nil {
		e.T.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		out = append(out, ev.Type+" "+ev.Reason+" "+ev.Message)
	}
	return out
}

// WaitEvent waits for an event about ns/name of kind whose
// "Type Reason Message" line contains want.
func (e *Env) WaitEvent(ns, kind, name, want string) {
	e.T.Helper()
	var last []string
	ctx, cancel := context.WithTimeout(e.Ctx, Timeout)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) {
		last = e.Events(ns, kind, name)
		for _, l := range last {
			if strings.Contains(l, want) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		e.T.Fatalf("no event %q for %s %s/%s; have %q", want, kind, ns, name, last)
	}
}
