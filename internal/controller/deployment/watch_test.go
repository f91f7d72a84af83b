package deployment_test

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// podWatch calls fn for every pod change, gone for deletions.
func podWatch(fn func(p *corev1.Pod, gone bool)) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { fn(o.(*corev1.Pod), false) },
		UpdateFunc: func(_, o any) { fn(o.(*corev1.Pod), false) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				fn(p, true)
			}
		},
	}
}
