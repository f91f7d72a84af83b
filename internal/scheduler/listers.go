package scheduler

import (
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
)

// listers are the informer caches the scheduler reads besides pods and
// nodes.
type listers struct {
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister
	services   corelisters.ServiceLister
	rcs        corelisters.ReplicationControllerLister
	rss        appslisters.ReplicaSetLister
	sss        appslisters.StatefulSetLister
	pdbs       policylisters.PodDisruptionBudgetLister
	pcs        schedulinglisters.PriorityClassLister
	pvcs       corelisters.PersistentVolumeClaimLister
	pvs        corelisters.PersistentVolumeLister
	scs        storagelisters.StorageClassLister
}

// volumeListers adapts the listers to volumeLister.
type volumeListers struct{ l *listers }

func (v volumeListers) claim(ns, name string) (*corev1.PersistentVolumeClaim, error) {
	return v.l.pvcs.PersistentVolumeClaims(ns).Get(name)
}
func (v volumeListers) volume(name string) (*corev1.PersistentVolume, error) {
	return v.l.pvs.Get(name)
}
func (v volumeListers) class(name string) (*storagev1.StorageClass, error) { return v.l.scs.Get(name) }
func (v volumeListers) volumes() []*corev1.PersistentVolume {
	pvs, _ := v.l.pvs.List(labels.Everything())
	return pvs
}

var (
	gvkRC = corev1.SchemeGroupVersion.WithKind("ReplicationController")
	gvkRS = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	gvkSS = appsv1.SchemeGroupVersion.WithKind("StatefulSet")
)

// defaultSpreadSelector is upstream's DefaultSelector: the union of the
// selectors of the Services selecting the pod and of its controlling
// ReplicationController, ReplicaSet or StatefulSet.
func (l *listers) defaultSpreadSelector(pod *corev1.Pod) labels.Selector {
	set := labels.Set{}
	if svcs, err := l.services.Services(pod.Namespace).List(labels.Everything()); err == nil {
		for _, s := range svcs {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromValidatedSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				set = labels.Merge(set, s.Spec.Selector)
			}
		}
	}
	sel := labels.SelectorFromSet(set)
	owner := metav1.GetControllerOfNoCopy(pod)
	if owner == nil {
		return sel
	}
	gv, err := schema.ParseGroupVersion(owner.APIVersion)
	if err != nil {
		return sel
	}
	switch gv.WithKind(owner.Kind) {
	case gvkRC:
		if rc, err := l.rcs.ReplicationControllers(pod.Namespace).Get(owner.Name); err == nil {
			sel = labels.SelectorFromSet(labels.Merge(set, rc.Spec.Selector))
		}
	case gvkRS:
		if rs, err := l.rss.ReplicaSets(pod.Namespace).Get(owner.Name); err == nil {
			sel = addSelector(sel, rs.Spec.Selector)
		}
	case gvkSS:
		if ss, err := l.sss.StatefulSets(pod.Namespace).Get(owner.Name); err == nil {
			sel = addSelector(sel, ss.Spec.Selector)
		}
	}
	return sel
}

func addSelector(sel labels.Selector, ls *metav1.LabelSelector) labels.Selector {
	other, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return sel
	}
	if reqs, ok := other.Requirements(); ok {
		sel = sel.Add(reqs...)
	}
	return sel
}

// Priorities of the built-in classes, which exist without objects.
const (
	systemNodeCritical    int32 = 2000001000
	systemClusterCritical int32 = 2000000000
)

// priorities resolves a pod's priority and preemption policy from its
// PriorityClass. kserver's API server does not run upstream's Priority
// admission plugin (which fills spec.priority on create), so the scheduler
// resolves pods that lack spec.priority itself.
type priorities struct {
	lister schedulinglisters.PriorityClassLister

	mu     sync.Mutex
	dirty  bool
	global *schedulingv1.PriorityClass // the global default, nil if none
}

func (p *priorities) invalidate() {
	p.mu.Lock()
	p.dirty = true
	p.mu.Unlock()
}

func (p *priorities) class(pod *corev1.Pod) *schedulingv1.PriorityClass {
	if name := pod.Spec.PriorityClassName; name != "" {
		if pc, err := p.lister.Get(name); err == nil {
			return pc
		}
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dirty {
		p.dirty, p.global = false, nil
		all, _ := p.lister.List(labels.Everything())
		for _, pc := range all {
			if pc.GlobalDefault && (p.global == nil || pc.Value < p.global.Value) {
				p.global = pc
			}
		}
	}
	return p.global
}

// priority returns the pod's priority.
func (p *priorities) priority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	switch pod.Spec.PriorityClassName {
	case "system-node-critical":
		return systemNodeCritical
	case "system-cluster-critical":
		return systemClusterCritical
	}
	if p == nil || p.lister == nil {
		return 0
	}
	if pc := p.class(pod); pc != nil {
		return pc.Value
	}
	return 0
}

// preemptionPolicy returns the pod's preemption policy.
func (p *priorities) preemptionPolicy(pod *corev1.Pod) corev1.PreemptionPolicy {
	if pod.Spec.PreemptionPolicy != nil {
		return *pod.Spec.PreemptionPolicy
	}
	if pod.Spec.Priority == nil && p != nil && p.lister != nil {
		if pc := p.class(pod); pc != nil && pc.PreemptionPolicy != nil {
			return *pc.PreemptionPolicy
		}
	}
	return corev1.PreemptLowerPriority
}
