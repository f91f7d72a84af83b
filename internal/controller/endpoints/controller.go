package endpoints

import (
	"context"
	"log/slog"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the event source upstream's endpoints controller uses.
const Component = "endpoint-controller"

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component.
	Recorder record.EventRecorder
	Logger   *slog.Logger
}

// Controller keeps Endpoints in step with Services and pods.
type Controller struct {
	set      *client.Set
	rec      record.EventRecorder
	logger   *slog.Logger
	svcInf   cache.SharedIndexInformer
	podInf   cache.SharedIndexInformer
	epInf    cache.SharedIndexInformer
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	eps      corelisters.EndpointsLister
	queue    loop.Queue
	triggers *TriggerTimeTracker
}

// New builds the controller on cfg's informers (Services, Pods,
// Endpoints); it registers handlers and starts nothing.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder, logger: cfg.Logger.With("component", Component),
		svcInf: cfg.Informers.Services(), podInf: cfg.Informers.Pods(), epInf: cfg.Informers.Endpoints(),
		queue: loop.NewQueue("endpoints"), triggers: NewTriggerTimeTracker(),
	}
	c.services = corelisters.NewServiceLister(c.svcInf.GetIndexer())
	c.pods = corelisters.NewPodLister(c.podInf.GetIndexer())
	c.eps = corelisters.NewEndpointsLister(c.epInf.GetIndexer())
	enqueue := func(o any) { loop.Enqueue(c.queue, o) }
	_, _ = c.svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podChanged(nil, o) },
		UpdateFunc: c.podChanged,
		DeleteFunc: func(o any) { c.podChanged(nil, o) },
	})
	_, _ = c.epInf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: enqueue})
	return c
}

// Run runs workers until ctx ends. At start every existing Endpoints object
// is checked once, so that those whose Service went while no controller ran
// are deleted.
func (c *Controller) Run(ctx context.Context, workers int) error {
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), c.epInf.HasSynced) {
			for _, k := range c.epInf.GetIndexer().ListKeys() {
				c.queue.Add(k)
			}
		}
	}()
	return loop.Run(ctx, loop.Config{
		Name: "endpoints", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.svcInf.HasSynced, c.podInf.HasSynced, c.epInf.HasSynced},
	})
}

// podChanged enqueues the Services selecting the pod before and after the
// change, when the change can matter to an endpoint.
func (c *Controller) podChanged(oldObj, curObj any) {
	cur, ok := unwrap(curObj)
	if !ok {
		return
	}
	old, hadOld := unwrap(oldObj)
	if hadOld && !endpointChanged(old, cur) {
		return
	}
	c.enqueueServicesOf(cur)
	if hadOld && !reflect.DeepEqual(old.Labels, cur.Labels) {
		c.enqueueServicesOf(old)
	}
}

// endpointChanged reports whether anything an endpoint is made of changed.
func endpointChanged(a, b *corev1.Pod) bool {
	return !reflect.DeepEqual(a.Labels, b.Labels) || a.Status.PodIP != b.Status.PodIP ||
		!reflect.DeepEqual(a.Status.PodIPs, b.Status.PodIPs) || IsPodReady(a) != IsPodReady(b) ||
		(a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil) || a.Status.Phase != b.Status.Phase ||
		a.Spec.NodeName != b.Spec.NodeName || a.Spec.Hostname != b.Spec.Hostname || a.Spec.Subdomain != b.Spec.Subdomain ||
		podTriggerTime(a) != podTriggerTime(b)
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

func unwrap(o any) (*corev1.Pod, bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	p, ok := o.(*corev1.Pod)
	return p, ok && p != nil
}
