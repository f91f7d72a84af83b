package podgc_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/podgc"
	"kserver.dev/kserver/internal/e2e"
)

func TestPodGarbageCollection(t *testing.T) {
	cfg := e2e.Start(t).RestConfig(t)
	cfg.QPS = -1
	env := controllertest.New(t, cfg)
	clk := clocktesting.NewFakeClock(time.Now())
	c := podgc.New(podgc.Config{Set: env.Set, Informers: env.Inf, Clock: clk, TerminatedPodThreshold: 2})
	env.Start()
	node := func(name string, ready bool, taints ...corev1.Taint) {
		t.Helper()
		n, err := env.Set.Nodes().Create(env.Ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
		if n, err = env.Set.Nodes().UpdateStatus(env.Ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.Nodes(), n)
	}
	pod := func(name, node string, phase corev1.PodPhase) *corev1.Pod {
		t.Helper()
		p, err := env.Set.Pods("default").Create(env.Ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = phase
		if p, err = env.Set.Pods("default").UpdateStatus(env.Ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		env.Cached(env.Inf.Pods(), p)
		return p
	}
	exists := func(name string) bool {
		_, err := env.Set.Pods("default").Get(env.Ctx, name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	sync := func() {
		t.Helper()
		if err := c.Sync(env.Ctx); err != nil {
			t.Fatal(err)
		}
	}

	node("good", true)
	node("fenced", false, corev1.Taint{Key: corev1.TaintNodeOutOfService, Effect: corev1.TaintEffectNoExecute})
	for i := range 4 {
		pod(fmt.Sprintf("done-%d", i), "good", corev1.PodSucceeded)
	}
	pod("running", "good", corev1.PodRunning)
	pod("orphan", "ghost", corev1.PodRunning)
	pod("stuck", "fenced", corev1.PodRunning)
	if err := env.Set.Pods("default").Delete(env.Ctx, "stuck", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Eventually("stuck pod terminating in cache", func() bool {
		o, ok, _ := env.Inf.Pods().GetIndexer().GetByKey("default/stuck")
		return ok && o.(*corev1.Pod).DeletionTimestamp != nil
	})

	sync()
	finished := 0
	for i := range 4 {
		if exists(fmt.Sprintf("done-%d", i)) {
			finished++
		}
	}
	if finished != 2 {
		t.Fatalf("%d finished pods left, want the threshold 2", finished)
	}
	if exists("stuck") {
		t.Fatal("terminating pod on an out-of-service node not collected")
	}
	if !exists("orphan") || !exists("running") {
		t.Fatal("orphan collected before its node's quarantine ran out (or a healthy pod went)")
	}
	clk.Step(41 * time.Second)
	sync()
	if exists("orphan") {
		t.Fatal("pod of a deleted node not collected after the quarantine")
	}
	if !exists("running") {
		t.Fatal("a running pod on a live node was collected")
	}
}
