package endpointslice

import (
	"context"
	"log/slog"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/endpoints"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the event source upstream uses.
const Component = "endpoint-slice-controller"

// ManagedBy is the value of the endpointslice.kubernetes.io/managed-by
// label on the slices this controller owns.
const ManagedBy = "endpointslice-controller.k8s.io"

// DefaultMaxEndpointsPerSlice is upstream's --max-endpoints-per-slice.
const DefaultMaxEndpointsPerSlice = 100

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// MaxEndpointsPerSlice (0: DefaultMaxEndpointsPerSlice).
	MaxEndpointsPerSlice int
}

// Controller keeps EndpointSlices in step with Services and pods.
type Controller struct {
	set      *client.Set
	rec      record.EventRecorder
	logger   *slog.Logger
	max      int
	svcInf   cache.SharedIndexInformer
	podInf   cache.SharedIndexInformer
	sliceInf cache.SharedIndexInformer
	nodeInf  cache.SharedIndexInformer
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	slices   discoverylisters.EndpointSliceLister
	nodes    corelisters.NodeLister
	queue    loop.Queue
	triggers *endpoints.TriggerTimeTracker
	written  *writeTracker
}

// New builds the controller on cfg's informers (Services, Pods,
// EndpointSlices, Nodes); it registers handlers and starts nothing.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxEndpointsPerSlice <= 0 {
		cfg.MaxEndpointsPerSlice = DefaultMaxEndpointsPerSlice
	}
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder, logger: cfg.Logger.With("component", Component), max: cfg.MaxEndpointsPerSlice,
		svcInf: cfg.Informers.Services(), podInf: cfg.Informers.Pods(),
		sliceInf: cfg.Informers.EndpointSlices(), nodeInf: cfg.Informers.Nodes(),
		queue: loop.NewQueue("endpointslice"), triggers: endpoints.NewTriggerTimeTracker(), written: newWriteTracker(),
	}
	c.services = corelisters.NewServiceLister(c.svcInf.GetIndexer())
	c.pods = corelisters.NewPodLister(c.podInf.GetIndexer())
	c.slices = discoverylisters.NewEndpointSliceLister(c.sliceInf.GetIndexer())
	c.nodes = corelisters.NewNodeLister(c.nodeInf.GetIndexer())
	enqueue := func(o any) { loop.Enqueue(c.queue, o) }
	_, _ = c.svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podChanged(nil, o) },
		UpdateFunc: c.podChanged,
		DeleteFunc: func(o any) { c.podChanged(nil, o) },
	})
	_, _ = c.sliceInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.sliceChanged,
		UpdateFunc: func(_, o any) { c.sliceChanged(o) },
		DeleteFunc: c.sliceChanged,
	})
	_, _ = c.nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: c.nodeChanged})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "endpointslice", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.svcInf.HasSynced, c.podInf.HasSynced, c.sliceInf.HasSynced, c.nodeInf.HasSynced},
	})
}

func (c *Controller) podChanged(oldObj, curObj any) {
	cur, ok := unwrap[*corev1.Pod](curObj)
	if !ok {
		return
	}
	old, hadOld := unwrap[*corev1.Pod](oldObj)
	if hadOld && reflect.DeepEqual(old.Labels, cur.Labels) && reflect.DeepEqual(old.Status.PodIPs, cur.Status.PodIPs) &&
		old.Status.PodIP == cur.Status.PodIP && endpoints.IsPodReady(old) == endpoints.IsPodReady(cur) &&
		(old.DeletionTimestamp == nil) == (cur.DeletionTimestamp == nil) && old.Status.Phase == cur.Status.Phase &&
		old.Spec.NodeName == cur.Spec.NodeName && old.Spec.Hostname == cur.Spec.Hostname && old.Spec.Subdomain == cur.Spec.Subdomain {
		return
	}
	c.enqueueServicesOf(cur)
	if hadOld && !reflect.DeepEqual(old.Labels, cur.Labels) {
		c.enqueueServicesOf(old)
	}
}

func (c *Controller) enqueueServicesOf(pod *corev1.Pod) {
	svcs, err := c.services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if s.Spec.Selector != nil && labels.SelectorFromValidatedSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

// sliceChanged enqueues the Service of one of our slices (someone else
// may have changed or deleted it).
func (c *Controller) sliceChanged(o any) {
	s, ok := unwrap[*discoveryv1.EndpointSlice](o)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
		return
	}
	if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
		c.queue.Add(s.Namespace + "/" + svc)
	}
}

// nodeChanged re-syncs every Service when a node's zone changes (rare).
func (c *Controller) nodeChanged(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Node)
	cur, ok2 := curObj.(*corev1.Node)
	if !ok1 || !ok2 || old.Labels[corev1.LabelTopologyZone] == cur.Labels[corev1.LabelTopologyZone] {
		return
	}
	for _, k := range c.svcInf.GetIndexer().ListKeys() {
		c.queue.Add(k)
	}
}

func unwrap[T any](o any) (T, bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	v, ok := o.(T)
	return v, ok
}
