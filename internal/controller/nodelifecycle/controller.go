package nodelifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the node controller's event source, as upstream.
const Component = "node-controller"

// Upstream's defaults (kube-controller-manager 1.37).
const (
	DefaultMonitorGracePeriod = 50 * time.Second
	DefaultStartupGracePeriod = 60 * time.Second
)

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock is the time source (nil: the real clock).
	Clock clock.Clock
	// MonitorGracePeriod is how long a node may stay silent before it is
	// marked Unknown (0: DefaultMonitorGracePeriod); StartupGracePeriod the
	// same for a node that never reported (0: DefaultStartupGracePeriod).
	MonitorGracePeriod time.Duration
	StartupGracePeriod time.Duration
}

// Controller is the node controller.
type Controller struct {
	cfg    Config
	set    *client.Set
	rec    record.EventRecorder
	logger *slog.Logger
	clock  clock.Clock

	nodeInf  cache.SharedIndexInformer
	leaseInf cache.SharedIndexInformer
	podInf   cache.SharedIndexInformer
	nodes    corelisters.NodeLister
	pods     podsByNode
	queue    loop.Queue

	mu             sync.Mutex
	health         map[string]*health
	known          map[string]types.UID
	fullDisruption bool
}

// New builds the node controller on cfg's informers (Nodes, Leases, Pods);
// it registers handlers and starts nothing.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.MonitorGracePeriod <= 0 {
		cfg.MonitorGracePeriod = DefaultMonitorGracePeriod
	}
	if cfg.StartupGracePeriod <= 0 {
		cfg.StartupGracePeriod = DefaultStartupGracePeriod
	}
	c := &Controller{
		cfg: cfg, set: cfg.Set, rec: cfg.Recorder, logger: cfg.Logger.With("component", Component), clock: cfg.Clock,
		nodeInf: cfg.Informers.Nodes(), leaseInf: cfg.Informers.Leases(), podInf: cfg.Informers.Pods(),
		queue:  loop.NewQueue("nodelifecycle"),
		health: map[string]*health{}, known: map[string]types.UID{},
	}
	c.nodes = corelisters.NewNodeLister(c.nodeInf.GetIndexer())
	c.pods = newPodsByNode(c.podInf)
	enqueue := func(o any) { loop.Enqueue(c.queue, o) }
	_, _ = c.nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	_, _ = c.leaseInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.leaseChanged, UpdateFunc: func(_, o any) { c.leaseChanged(o) },
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podBound(nil, o) },
		UpdateFunc: c.podBound,
	})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "nodelifecycle", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.nodeInf.HasSynced, c.leaseInf.HasSynced, c.podInf.HasSynced},
	})
}

// leaseChanged syncs the node a kube-node-lease Lease belongs to.
func (c *Controller) leaseChanged(o any) {
	if l, ok := o.(*coordinationv1.Lease); ok && l.Namespace == corev1.NamespaceNodeLease {
		c.queue.Add(l.Name)
	}
}

// podBound syncs a node when a pod lands on it (it may need marking not
// ready there).
func (c *Controller) podBound(oldObj, curObj any) {
	cur, ok := curObj.(*corev1.Pod)
	if !ok || cur.Spec.NodeName == "" {
		return
	}
	if old, ok := oldObj.(*corev1.Pod); ok && old.Spec.NodeName == cur.Spec.NodeName {
		return
	}
	c.queue.Add(cur.Spec.NodeName)
}

// podsByNode lists the pods bound to a node through an index on the
// shared pod informer.
type podsByNode struct{ inf cache.SharedIndexInformer }

const nodeNameIndex = "spec.nodeName"

func newPodsByNode(inf cache.SharedIndexInformer) podsByNode {
	if _, ok := inf.GetIndexer().GetIndexers()[nodeNameIndex]; !ok {
		_ = inf.AddIndexers(cache.Indexers{nodeNameIndex: func(o any) ([]string, error) {
			if p, ok := o.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				return []string{p.Spec.NodeName}, nil
			}
			return nil, nil
		}})
	}
	return podsByNode{inf: inf}
}

func (p podsByNode) on(node string) []*corev1.Pod {
	objs, _ := p.inf.GetIndexer().ByIndex(nodeNameIndex, node)
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if pod, ok := o.(*corev1.Pod); ok {
			out = append(out, pod)
		}
	}
	return out
}
