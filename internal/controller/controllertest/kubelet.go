package controllertest

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// MarkPodsReady stands in for node agents in end-to-end tests: every pod
// that is not being deleted and has no Ready condition yet, and for which
// want returns true (nil: every pod), is set Running and Ready. It runs
// until the test's context ends.
func (e *Env) MarkPodsReady(want func(*corev1.Pod) bool) {
	q := workqueue.NewTyped[string]()
	inf := e.Inf.Pods()
	enqueue := func(o any) {
		p, ok := o.(*corev1.Pod)
		if !ok || p.DeletionTimestamp != nil || hasReady(p) || (want != nil && !want(p)) {
			return
		}
		q.Add(p.Namespace + "/" + p.Name)
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, o any) { enqueue(o) },
	})
	go func() {
		<-e.Ctx.Done()
		q.ShutDown()
	}()
	go func() {
		for {
			key, quit := q.Get()
			if quit {
				return
			}
			e.markReady(key)
			q.Done(key)
		}
	}()
}

func hasReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return true
		}
	}
	return false
}

func (e *Env) markReady(key string) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return
	}
	p, err := e.Set.Pods(ns).Get(e.Ctx, name, metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp != nil || hasReady(p) {
		return
	}
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &now
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	_, _ = e.Set.Pods(ns).UpdateStatus(e.Ctx, p, metav1.UpdateOptions{})
}
