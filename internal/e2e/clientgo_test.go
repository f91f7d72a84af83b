package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// seen records what an informer delivered.
type seen struct {
	mu   sync.Mutex
	data map[string]string // name → data["v"]
	ch   chan struct{}
}

func (s *seen) set(cm *corev1.ConfigMap, gone bool) {
	s.mu.Lock()
	if gone {
		delete(s.data, cm.Name)
	} else {
		s.data[cm.Name] = cm.Data["v"]
	}
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds on the recorded state.
func (s *seen) waitFor(t *testing.T, what string, cond func(map[string]string) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		ok := cond(s.data)
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-s.ch:
		case <-deadline:
			t.Fatalf("informer never saw %s; state %v", what, s.data)
		}
	}
}

// TestInformerAcrossRestart runs a client-go informer (watch-list with
// client-go 0.37) while kserver restarts: it must resync and keep
// delivering events written after the restart.
func TestInformerAcrossRestart(t *testing.T) {
	c := Start(t)
	cs, err := kubernetes.NewForConfig(c.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cms := cs.CoreV1().ConfigMaps("default")
	mk := func(name, v string) {
		t.Helper()
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": v}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("before", "1")

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().ConfigMaps().Informer()
	s := &seen{data: map[string]string{}, ch: make(chan struct{}, 1)}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.set(o.(*corev1.ConfigMap), false) },
		UpdateFunc: func(_, o any) { s.set(o.(*corev1.ConfigMap), false) },
		DeleteFunc: func(o any) {
			if cm, ok := o.(*corev1.ConfigMap); ok {
				s.set(cm, true)
			} else if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				s.set(d.Obj.(*corev1.ConfigMap), true)
			}
		},
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	s.waitFor(t, "the initial object", func(m map[string]string) bool { return m["before"] == "1" })
	mk("live", "2")
	s.waitFor(t, "a live create", func(m map[string]string) bool { return m["live"] == "2" })

	c.Restart(t)

	mk("after", "3")
	cm, err := cms.Get(ctx, "live", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["v"] = "22"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "before", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "the writes after the restart", func(m map[string]string) bool {
		_, stillThere := m["before"]
		return m["after"] == "3" && m["live"] == "22" && !stillThere
	})
}
