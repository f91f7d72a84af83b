package daemonset

import (
	"context"
	"log/slog"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

// Component is the event source name upstream uses for this controller.
const Component = "daemonset-controller"

// BurstReplicas is the most pods one sync creates or deletes.
const BurstReplicas = 250

var kind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

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

// Controller reconciles DaemonSets.
type Controller struct {
	set     *client.Set
	rec     record.EventRecorder
	dsInf   cache.SharedIndexInformer
	podInf  cache.SharedIndexInformer
	nodeInf cache.SharedIndexInformer
	crInf   cache.SharedIndexInformer
	dss     appslisters.DaemonSetLister
	pods    corelisters.PodLister
	nodes   corelisters.NodeLister
	revs    appslisters.ControllerRevisionLister
	control *podcontrol.Control
	exp     *podcontrol.Expectations
	queue   loop.Queue
	clock   clock.Clock
	logger  *slog.Logger
}

// New builds the controller on cfg's informers (DaemonSets, Pods, Nodes,
// ControllerRevisions); it registers handlers and starts nothing.
func New(cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	inf := cfg.Informers
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder,
		dsInf: inf.DaemonSets(), podInf: inf.Pods(), nodeInf: inf.Nodes(), crInf: inf.ControllerRevisions(),
		control: &podcontrol.Control{Set: cfg.Set, Recorder: cfg.Recorder},
		exp:     podcontrol.NewExpectations(),
		queue:   loop.NewQueue("daemonset"), clock: cfg.Clock,
		logger: cfg.Logger.With("component", Component),
	}
	c.dss = appslisters.NewDaemonSetLister(c.dsInf.GetIndexer())
	c.pods = corelisters.NewPodLister(c.podInf.GetIndexer())
	c.nodes = corelisters.NewNodeLister(c.nodeInf.GetIndexer())
	c.revs = appslisters.NewControllerRevisionLister(c.crInf.GetIndexer())
	_, _ = c.dsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
		DeleteFunc: c.dsDeleted,
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podChanged(nil, o) },
		UpdateFunc: c.podChanged,
		DeleteFunc: c.podDeleted,
	})
	_, _ = c.nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.enqueueAll() },
		UpdateFunc: c.nodeChanged,
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "daemonset", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.dsInf.HasSynced, c.podInf.HasSynced, c.nodeInf.HasSynced, c.crInf.HasSynced},
	})
}

func (c *Controller) enqueueAll() {
	all, _ := c.dss.List(labels.Everything())
	for _, ds := range all {
		c.queue.Add(ds.Namespace + "/" + ds.Name)
	}
}

// nodeChanged enqueues every DaemonSet when something that decides
// placement changed: labels, taints, conditions or the node's spec.
func (c *Controller) nodeChanged(old, cur any) {
	on, ok1 := old.(*corev1.Node)
	nn, ok2 := cur.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	if reflect.DeepEqual(on.Labels, nn.Labels) && reflect.DeepEqual(on.Spec.Taints, nn.Spec.Taints) &&
		on.Spec.Unschedulable == nn.Spec.Unschedulable && reflect.DeepEqual(on.Status.Conditions, nn.Status.Conditions) {
		return
	}
	c.enqueueAll()
}

func (c *Controller) dsDeleted(o any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.exp.Delete(key)
		c.queue.Add(key)
	}
}

func podOf(o any) (*corev1.Pod, bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	p, ok := o.(*corev1.Pod)
	return p, ok
}

func (c *Controller) ownerKey(pod *corev1.Pod) (string, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != kind.Kind {
		return "", false
	}
	ds, err := c.dss.DaemonSets(pod.Namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return "", false
	}
	return pod.Namespace + "/" + ref.Name, true
}

func (c *Controller) podChanged(old, cur any) {
	pod, ok := podOf(cur)
	if !ok {
		return
	}
	key, owned := c.ownerKey(pod)
	if !owned {
		if metav1.GetControllerOfNoCopy(pod) == nil {
			c.enqueueMatching(pod)
		}
		return
	}
	if old == nil {
		c.exp.CreationObserved(key)
	} else if op, ok := podOf(old); ok && op.DeletionTimestamp == nil && pod.DeletionTimestamp != nil {
		c.exp.DeletionObserved(key, podcontrol.Key(pod))
	}
	c.queue.Add(key)
}

func (c *Controller) podDeleted(o any) {
	pod, ok := podOf(o)
	if !ok {
		return
	}
	if key, owned := c.ownerKey(pod); owned {
		c.exp.DeletionObserved(key, podcontrol.Key(pod))
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	all, _ := c.dss.DaemonSets(pod.Namespace).List(labels.Everything())
	for _, ds := range all {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(ds.Namespace + "/" + ds.Name)
		}
	}
}
