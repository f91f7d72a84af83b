package servicelb

import (
	"context"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the event source of upstream's service controller, in
// whose place k3s's ServiceLB runs (and writes its Events).
const Component = "service-controller"

// Class is the spec.loadBalancerClass this controller answers to besides
// none at all; a Service of any other class is left alone.
const Class = "kserver.dev/servicelb"

// Labels of k3s's ServiceLB, kept so that k3s users' nodes and Services
// work unchanged.
const (
	// EnableLabel on a node: when any node has it, only nodes with
	// the value "true" carry LoadBalancer addresses.
	EnableLabel = "svccontroller.k3s.cattle.io/enablelb"
	// PoolLabel on nodes and Services: a Service with a pool uses only
	// the (enabled) nodes of that pool.
	PoolLabel = "svccontroller.k3s.cattle.io/lbpool"
	// ExcludeLabel is upstream's label for nodes no load balancer may use.
	ExcludeLabel = corev1.LabelNodeExcludeBalancers
)

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component.
	Recorder record.EventRecorder
	Logger   *slog.Logger
}

// Controller keeps the ingress addresses of LoadBalancer Services.
type Controller struct {
	set      *client.Set
	rec      record.EventRecorder
	logger   *slog.Logger
	svcInf   cache.SharedIndexInformer
	nodeInf  cache.SharedIndexInformer
	sliceInf cache.SharedIndexInformer
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	queue    loop.Queue
}

// New builds the controller on cfg's Service, Node and EndpointSlice
// informers.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder, logger: cfg.Logger.With("component", "servicelb"),
		svcInf: cfg.Informers.Services(), nodeInf: cfg.Informers.Nodes(), sliceInf: cfg.Informers.EndpointSlices(),
		queue: loop.NewQueue("servicelb"),
	}
	c.services = corelisters.NewServiceLister(c.svcInf.GetIndexer())
	c.nodes = corelisters.NewNodeLister(c.nodeInf.GetIndexer())
	c.slices = discoverylisters.NewEndpointSliceLister(c.sliceInf.GetIndexer())
	// A Service's ports can hold nodes from newer Services with the same
	// ports, so a change to one load balancer requeues them all.
	onService := func(o any) {
		loop.Enqueue(c.queue, o)
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		if s, ok := o.(*corev1.Service); ok && s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			c.enqueueAll()
		}
	}
	_, _ = c.svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onService, UpdateFunc: func(_, o any) { onService(o) }, DeleteFunc: onService,
	})
	_, _ = c.nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(o, n any) {
			on, ok1 := o.(*corev1.Node)
			nn, ok2 := n.(*corev1.Node)
			if !ok1 || !ok2 || nodeChanged(on, nn) {
				c.enqueueAll()
			}
		},
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	onSlice := func(o any) {
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			c.enqueueLocal(s)
		}
	}
	_, _ = c.sliceInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onSlice, UpdateFunc: func(_, o any) { onSlice(o) }, DeleteFunc: onSlice,
	})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "servicelb", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.svcInf.HasSynced, c.nodeInf.HasSynced, c.sliceInf.HasSynced},
	})
}

// enqueueAll queues every Service that is, or was, a load balancer: a node
// change can move any of their addresses.
func (c *Controller) enqueueAll() {
	svcs, _ := c.services.List(labels.Everything())
	for _, s := range svcs {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer || len(s.Status.LoadBalancer.Ingress) > 0 {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

// enqueueLocal queues the Service of an EndpointSlice when its addresses
// depend on where its endpoints run (externalTrafficPolicy: Local).
func (c *Controller) enqueueLocal(s *discoveryv1.EndpointSlice) {
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return
	}
	svc, err := c.services.Services(s.Namespace).Get(name)
	if err == nil && svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		c.queue.Add(s.Namespace + "/" + name)
	}
}

// nodeChanged reports a change that can move load-balancer addresses:
// readiness, addresses, the labels that choose nodes, deletion. Heartbeats
// change none of them.
func nodeChanged(o, n *corev1.Node) bool {
	if ready(o) != ready(n) || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) ||
		!slices.Equal(o.Status.Addresses, n.Status.Addresses) {
		return true
	}
	for _, l := range []string{EnableLabel, PoolLabel, ExcludeLabel} {
		ov, ook := o.Labels[l]
		nv, nok := n.Labels[l]
		if ov != nv || ook != nok {
			return true
		}
	}
	return false
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
