package namespace

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	Logger    *slog.Logger
	// Clock is the time source (nil: the real clock).
	Clock clock.Clock
}

// Controller deletes terminating namespaces' content, then the namespaces.
type Controller struct {
	set       *client.Set
	logger    *slog.Logger
	clock     clock.Clock
	nsInf     cache.SharedIndexInformer
	podInf    cache.SharedIndexInformer
	ns        corelisters.NamespaceLister
	queue     loop.Queue
	resources client.Resources // namespaced, deletable; set by Run
}

// New builds the controller on cfg's informers (Namespaces, Pods); it
// registers handlers and starts nothing.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	c := &Controller{
		set: cfg.Set, logger: cfg.Logger.With("component", "namespace-controller"), clock: cfg.Clock,
		nsInf: cfg.Informers.Namespaces(), podInf: cfg.Informers.Pods(), queue: loop.NewQueue("namespace"),
	}
	c.ns = corelisters.NewNamespaceLister(c.nsInf.GetIndexer())
	enqueue := func(o any) {
		if ns, ok := o.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.queue.Add(ns.Name)
		}
	}
	_, _ = c.nsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) },
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.podDeleted})
	return c
}

// podDeleted looks at a terminating namespace again when one of its pods
// has gone: it may be the last thing it waited for.
func (c *Controller) podDeleted(o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	if ns, err := c.ns.Get(pod.Namespace); err == nil && ns.DeletionTimestamp != nil {
		c.queue.AddAfter(ns.Name, podGoneDelay)
	}
}

// podGoneDelay batches the wake-ups of many pods going at once.
const podGoneDelay = 200 * time.Millisecond

// Run discovers the namespaced resources once, then runs workers until
// ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	for {
		err := c.Discover(ctx)
		if err == nil {
			break
		}
		c.logger.Warn("discovery failed, retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	return loop.Run(ctx, loop.Config{
		Name: "namespace", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.nsInf.HasSynced, c.podInf.HasSynced},
	})
}

// Discover asks the server which namespaced resources can be listed and
// deleted (kserver's set is fixed for a server's life). Run calls it;
// tests calling sync directly call it first.
func (c *Controller) Discover(ctx context.Context) error {
	all, err := c.set.ServerResources(ctx)
	if err != nil {
		return fmt.Errorf("namespace controller: %w", err)
	}
	c.resources = nil
	for _, r := range all {
		if r.Namespaced && r.Has("list", "delete") {
			c.resources = append(c.resources, r)
		}
	}
	return nil
}
