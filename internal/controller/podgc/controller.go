package podgc

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Upstream's defaults.
const (
	DefaultTerminatedPodThreshold = 12500
	DefaultQuarantine             = 40 * time.Second
)

// passKey is the one key of the queue: a whole pass.
const passKey = "pods"

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	Logger    *slog.Logger
	Clock     clock.Clock
	// TerminatedPodThreshold is how many finished pods may stay (0:
	// DefaultTerminatedPodThreshold; negative: no limit).
	TerminatedPodThreshold int
	// Quarantine is how long a node must be missing before its pods are
	// deleted (0: DefaultQuarantine).
	Quarantine time.Duration
}

// Controller is the pod garbage collector.
type Controller struct {
	cfg     Config
	set     *client.Set
	logger  *slog.Logger
	clock   clock.Clock
	podInf  cache.SharedIndexInformer
	nodeInf cache.SharedIndexInformer
	pods    corelisters.PodLister
	nodes   corelisters.NodeLister
	queue   loop.Queue

	mu      sync.Mutex
	missing map[string]time.Time // node name → when first found missing
}

// New builds the collector on cfg's informers (Pods, Nodes).
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.TerminatedPodThreshold == 0 {
		cfg.TerminatedPodThreshold = DefaultTerminatedPodThreshold
	}
	if cfg.Quarantine <= 0 {
		cfg.Quarantine = DefaultQuarantine
	}
	c := &Controller{
		cfg: cfg, set: cfg.Set, logger: cfg.Logger.With("component", "pod-garbage-collector"), clock: cfg.Clock,
		podInf: cfg.Informers.Pods(), nodeInf: cfg.Informers.Nodes(),
		queue: loop.NewQueue("podgc"), missing: map[string]time.Time{},
	}
	c.pods = corelisters.NewPodLister(c.podInf.GetIndexer())
	c.nodes = corelisters.NewNodeLister(c.nodeInf.GetIndexer())
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podChanged(nil, o) },
		UpdateFunc: c.podChanged,
	})
	_, _ = c.nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, o any) {
			if n, ok := o.(*corev1.Node); ok && outOfService(n) {
				c.queue.Add(passKey)
			}
		},
		DeleteFunc: func(any) { c.queue.Add(passKey) },
	})
	return c
}

// Run runs the passes until ctx ends (one worker: a pass covers all pods).
func (c *Controller) Run(ctx context.Context, _ int) error {
	c.queue.Add(passKey) // whatever piled up while no collector ran
	return loop.Run(ctx, loop.Config{
		Name: "podgc", Queue: c.queue, Workers: 1, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.podInf.HasSynced, c.nodeInf.HasSynced},
	})
}

// podChanged queues a pass when a pod may have become something to collect.
func (c *Controller) podChanged(oldObj, curObj any) {
	p, ok := curObj.(*corev1.Pod)
	if !ok {
		return
	}
	old, _ := oldObj.(*corev1.Pod)
	switch {
	case terminated(p) && (old == nil || !terminated(old)):
	case p.DeletionTimestamp != nil && (p.Spec.NodeName == "" || (old != nil && old.DeletionTimestamp == nil)):
	case p.Spec.NodeName != "" && (old == nil || old.Spec.NodeName == ""):
		if _, err := c.nodes.Get(p.Spec.NodeName); err == nil {
			return
		}
	default:
		return
	}
	c.queue.Add(passKey)
}

func terminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func outOfService(n *corev1.Node) bool {
	return slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeOutOfService })
}
