package controllertest

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// DrivePods stands in for node agents in end-to-end tests: for every pod
// added or changed (and not being deleted), step is called on a fresh copy
// and, when it returns true, the pod's status is written as step left it.
// It runs until the test's context ends.
func (e *Env) DrivePods(step func(*corev1.Pod) bool) {
	q := workqueue.NewTyped[string]()
	enqueue := func(o any) {
		if p, ok := o.(*corev1.Pod); ok && p.DeletionTimestamp == nil {
			q.Add(p.Namespace + "/" + p.Name)
		}
	}
	_, _ = e.Inf.Pods().AddEventHandler(cache.ResourceEventHandlerFuncs{
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
			e.drive(key, step)
			q.Done(key)
		}
	}()
}

func (e *Env) drive(key string, step func(*corev1.Pod) bool) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return
	}
	p, err := e.Set.Pods(ns).Get(e.Ctx, name, metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp != nil || !step(p) {
		return
	}
	_, _ = e.Set.Pods(ns).UpdateStatus(e.Ctx, p, metav1.UpdateOptions{})
}

// MarkPodsReady drives every pod for which want returns true (nil: all)
// to Running and Ready, once.
func (e *Env) MarkPodsReady(want func(*corev1.Pod) bool) {
	e.DrivePods(func(p *corev1.Pod) bool {
		if hasReady(p) || (want != nil && !want(p)) {
			return false
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.StartTime = &now
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
		return true
	})
}

func hasReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return true
		}
	}
	return false
}
