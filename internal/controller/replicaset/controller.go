package replicaset

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

// Component is the event source name upstream uses for this controller.
const Component = "replicaset-controller"

// BurstReplicas is the most pods one sync creates or deletes.
const BurstReplicas = 500

// Config is what the controller needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component (client.NewRecorder).
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock is the time source (nil: the real clock).
	Clock clock.Clock
}

// Controller reconciles ReplicaSets (or, through an Adapter, RCs).
type Controller struct {
	kind    Adapter
	set     *client.Set
	pods    corelisters.PodLister
	podInf  cache.SharedIndexInformer
	control *podcontrol.Control
	exp     *podcontrol.Expectations
	queue   loop.Queue
	clock   clock.Clock
	logger  *slog.Logger
	name    string
}

// New builds the ReplicaSet controller on cfg's informers (ReplicaSets and
// Pods); it registers handlers and starts nothing.
func New(cfg Config) *Controller {
	return NewFor(cfg, newReplicaSets(cfg.Set, cfg.Informers), "replicaset")
}

// NewFor builds the controller for the kind a adapts; name labels its
// queue and logs.
func NewFor(cfg Config, a Adapter, name string) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	podInf := cfg.Informers.Pods()
	c := &Controller{
		kind:    a,
		set:     cfg.Set,
		pods:    corelisters.NewPodLister(podInf.GetIndexer()),
		podInf:  podInf,
		control: &podcontrol.Control{Set: cfg.Set, Recorder: cfg.Recorder},
		exp:     podcontrol.NewExpectations(),
		queue:   loop.NewQueue(name),
		clock:   cfg.Clock,
		logger:  cfg.Logger.With("component", name+"-controller"),
		name:    name,
	}
	_, _ = a.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
		DeleteFunc: c.deleteOwner,
	})
	_, _ = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: c.name, Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.kind.Informer().HasSynced, c.podInf.HasSynced},
	})
}

func (c *Controller) deleteOwner(o any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.exp.Delete(key)
		c.queue.Add(key)
	}
}

// ownerKey is the key of the controller of pod when it is of our kind.
func (c *Controller) ownerKey(pod *corev1.Pod, ref *metav1.OwnerReference) (string, bool) {
	kind := c.kind.Kind()
	if ref == nil || ref.Kind != kind.Kind || ref.APIVersion != kind.GroupVersion().String() {
		return "", false
	}
	rs, _, err := c.kind.Get(pod.Namespace, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return "", false
	}
	return pod.Namespace + "/" + ref.Name, true
}

// enqueueMatching enqueues every owner whose selector matches an orphan.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	all, err := c.kind.List(pod.Namespace)
	if err != nil {
		return
	}
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		c.queue.Add(rs.Namespace + "/" + rs.Name)
	}
}

func (c *Controller) addPod(o any) {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if key, ok := c.ownerKey(pod, ref); ok {
			c.exp.CreationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) updatePod(old, cur any) {
	op, ok1 := old.(*corev1.Pod)
	np, ok2 := cur.(*corev1.Pod)
	if !ok1 || !ok2 || op.ResourceVersion == np.ResourceVersion {
		return
	}
	if np.DeletionTimestamp != nil && op.DeletionTimestamp == nil {
		// Count the deletion as soon as it starts, as upstream.
		if ref := metav1.GetControllerOfNoCopy(np); ref != nil {
			if key, ok := c.ownerKey(np, ref); ok {
				c.exp.DeletionObserved(key, podcontrol.Key(np))
			}
		}
	}
	oldRef, newRef := metav1.GetControllerOfNoCopy(op), metav1.GetControllerOfNoCopy(np)
	if oldRef != nil && !reflect.DeepEqual(oldRef, newRef) {
		if key, ok := c.ownerKey(op, oldRef); ok {
			c.queue.Add(key)
		}
	}
	if newRef != nil {
		key, ok := c.ownerKey(np, newRef)
		if !ok {
			return
		}
		c.queue.Add(key)
		// A pod that just became ready becomes available minReadySeconds later.
		if !podcontrol.IsReady(op) && podcontrol.IsReady(np) {
			if rs, _, err := c.kind.Get(np.Namespace, newRef.Name); err == nil && rs.Spec.MinReadySeconds > 0 {
				c.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
			}
		}
		return
	}
	if !reflect.DeepEqual(op.Labels, np.Labels) || oldRef != nil {
		c.enqueueMatching(np)
	}
}

func (c *Controller) deletePod(o any) {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		t, ok := o.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = t.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	if key, ok := c.ownerKey(pod, ref); ok {
		c.exp.DeletionObserved(key, podcontrol.Key(pod))
		c.queue.Add(key)
	}
}
