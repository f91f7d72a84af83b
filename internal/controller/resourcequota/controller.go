package resourcequota

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	Clock     clock.Clock
}

// Controller keeps ResourceQuota status.
type Controller struct {
	set    *client.Set
	inf    *client.Informers
	logger *slog.Logger
	clock  clock.Clock

	quotaInf cache.SharedIndexInformer
	quotas   corelisters.ResourceQuotaLister
	typed    map[schema.GroupResource]cache.SharedIndexInformer
	queue    loop.Queue

	mu        sync.Mutex
	resources client.Resources // set by Run (discovery)
	counted   map[schema.GroupResource]cache.SharedIndexInformer
}

// New builds the controller on cfg's informers (ResourceQuotas, Pods,
// Services, PersistentVolumeClaims; others when a quota names them).
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	f := cfg.Informers
	c := &Controller{
		set: cfg.Set, inf: f, logger: cfg.Logger.With("component", "resourcequota-controller"), clock: cfg.Clock,
		quotaInf: f.ResourceQuotas(), queue: loop.NewQueue("resourcequota"),
		typed: map[schema.GroupResource]cache.SharedIndexInformer{
			{Resource: "pods"}:                   f.Pods(),
			{Resource: "services"}:               f.Services(),
			{Resource: "persistentvolumeclaims"}: f.PersistentVolumeClaims(),
		},
		counted: map[schema.GroupResource]cache.SharedIndexInformer{},
	}
	c.quotas = corelisters.NewResourceQuotaLister(c.quotaInf.GetIndexer())
	_, _ = c.quotaInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.ResourceQuota), cur.(*corev1.ResourceQuota)
			if !equality.Semantic.DeepEqual(o.Spec, n.Spec) || !equality.Semantic.DeepEqual(n.Spec.Hard, n.Status.Hard) {
				loop.Enqueue(c.queue, cur)
			}
		},
	})
	for _, inf := range c.typed {
		_, _ = inf.AddEventHandler(c.objectHandler())
	}
	return c
}

// objectHandler re-syncs the quotas of the namespace of a changed object.
func (c *Controller) objectHandler() cache.ResourceEventHandler {
	enqueue := func(o any) {
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		ns, ok := namespaceOf(o)
		if !ok || ns == "" {
			return
		}
		qs, err := c.quotas.ResourceQuotas(ns).List(labels.Everything())
		if err != nil {
			return
		}
		for _, q := range qs {
			c.queue.Add(q.Namespace + "/" + q.Name)
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue}
}

func namespaceOf(o any) (string, bool) {
	m, ok := o.(interface{ GetNamespace() string })
	if !ok {
		return "", false
	}
	return m.GetNamespace(), true
}

// Run discovers the served resources (for count/… names), then runs
// workers until ctx ends.
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
	synced := []cache.InformerSynced{c.quotaInf.HasSynced}
	for _, inf := range c.typed {
		synced = append(synced, inf.HasSynced)
	}
	return loop.Run(ctx, loop.Config{
		Name: "resourcequota", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync, Synced: synced,
	})
}

// Discover asks the server which resources it serves. Run calls it; tests
// calling sync directly call it first.
func (c *Controller) Discover(ctx context.Context) error {
	res, err := c.set.ServerResources(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.resources = res
	c.mu.Unlock()
	return nil
}

// informerFor returns an informer of gr's objects (typed for pods, services
// and claims; metadata-only and shared otherwise, created and started on
// first use) and whether its cache has synced.
func (c *Controller) informerFor(ctx context.Context, gr schema.GroupResource) (cache.SharedIndexInformer, bool) {
	if inf, ok := c.typed[gr]; ok {
		return inf, inf.HasSynced()
	}
	c.mu.Lock()
	inf, ok := c.counted[gr]
	if !ok {
		r, served := c.resources.ForResource(gr)
		if !served || !r.Namespaced || !r.Has("list", "watch") {
			c.mu.Unlock()
			return nil, true
		}
		inf = c.inf.ForMetadata(r.GVR)
		_, _ = inf.AddEventHandler(c.objectHandler())
		c.counted[gr] = inf
	}
	c.mu.Unlock()
	if !ok {
		c.inf.Start(ctx)
	}
	return inf, inf.HasSynced()
}
