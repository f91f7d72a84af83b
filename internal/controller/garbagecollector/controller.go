package garbagecollector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the event source upstream uses.
const Component = "garbage-collector-controller"

// ignored are resources never watched (upstream's default ignored set).
var ignored = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component.
	Recorder record.EventRecorder
	Logger   *slog.Logger
}

// Controller is the garbage collector.
type Controller struct {
	set    *client.Set
	inf    *client.Informers
	rec    record.EventRecorder
	logger *slog.Logger

	resources client.Resources
	synced    []cache.InformerSynced
	graph     *graph
	changes   workqueue.TypedInterface[*event]
	toDelete  loop.Queue
	toOrphan  loop.Queue
	absent    *absentCache
}

// New builds the collector; it watches nothing until Run, which first asks
// the server what it serves.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		set: cfg.Set, inf: cfg.Informers, rec: cfg.Recorder, logger: cfg.Logger.With("component", Component),
		graph:    newGraph(),
		changes:  workqueue.NewTyped[*event](),
		toDelete: loop.NewQueue("garbagecollector_attempt_to_delete"),
		toOrphan: loop.NewQueue("garbagecollector_attempt_to_orphan"),
		absent:   newAbsentCache(absentCacheSize),
	}
}

// Run discovers the resources, watches them, builds the graph and runs
// workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.changes.ShutDown()
	for {
		err := c.Start(ctx)
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
	synced := c.synced
	go func() {
		<-ctx.Done()
		c.changes.ShutDown()
	}()
	go c.buildGraph()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, q := range []struct {
		name string
		q    loop.Queue
		sync func(context.Context, string) error
	}{
		{"garbagecollector", c.toDelete, c.attemptToDelete},
		{"garbagecollector-orphan", c.toOrphan, c.attemptToOrphan},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = loop.Run(ctx, loop.Config{Name: q.name, Queue: q.q, Workers: workers, Logger: c.logger, Sync: q.sync, Synced: synced})
		}()
	}
	wg.Wait()
	if errs[0] != nil {
		return errs[0]
	}
	return errs[1]
}

// Start discovers the served resources and starts following each that
// can be deleted: through the shared informer when another component
// already watches it, else with a bare reflector of its own that keeps
// nothing (monitor.go). Run calls it; tests that drive the collector step
// by step call it, then wait for Synced.
func (c *Controller) Start(ctx context.Context) error {
	all, err := c.set.ServerResources(ctx)
	if err != nil {
		return fmt.Errorf("garbage collector: %w", err)
	}
	c.resources = all
	c.synced = nil
	for _, r := range all {
		if ignored[r.GVR.GroupResource()] || !r.Has("list", "watch", "delete") {
			continue
		}
		if inf, ok := c.inf.Existing(r.GVR); ok {
			_, _ = inf.AddEventHandler(c.handler(r))
			c.synced = append(c.synced, inf.HasSynced)
			continue
		}
		c.synced = append(c.synced, c.watchAlone(ctx, r))
	}
	c.inf.Start(ctx)
	return nil
}

// handler turns informer events of resource r into graph changes.
func (c *Controller) handler(r client.Resource) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.push(eventAdded, r, o) },
		UpdateFunc: func(_, o any) { c.push(eventUpdated, r, o) },
		DeleteFunc: func(o any) { c.push(eventDeleted, r, o) },
	}
}
