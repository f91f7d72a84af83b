package client

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// Informers is a shared-informer factory: at most one informer per resource
// (and optional list filter), shared by every component that asks for it,
// all started by Start. Components register event handlers on the informers
// they get and read through listers built on GetIndexer().
type Informers struct {
	set    *Set
	resync time.Duration

	mu        sync.Mutex
	informers map[informerKey]cache.SharedIndexInformer
	started   map[informerKey]bool

	// A view made by Scope: informers are parent's, handlers added
	// through the view are recorded in regs, and Start uses root.
	parent *Informers
	root   context.Context
	regs   []handlerReg
}

type informerKey struct {
	gvr    schema.GroupVersionResource
	filter string
}

// NewInformers returns a factory whose informers resync every resync (0 for
// never; level-triggered controllers usually want a few minutes).
func NewInformers(s *Set, resync time.Duration) *Informers {
	return &Informers{
		set:       s,
		resync:    resync,
		informers: map[informerKey]cache.SharedIndexInformer{},
		started:   map[informerKey]bool{},
	}
}

// ListFilter narrows what an informer lists and watches (a field or label
// selector, e.g. the node agent's spec.nodeName=<node>). Informers with
// different filters are distinct.
type ListFilter struct {
	LabelSelector string
	FieldSelector string
}

func (f ListFilter) key() string { return f.LabelSelector + "|" + f.FieldSelector }

// InformerFor returns the shared informer of resource gvr over all
// namespaces, creating it on first use. T and L are its object and list
// types (e.g. *corev1.Pod, *corev1.PodList).
func InformerFor[T Object, L runtime.Object](f *Informers, gvr schema.GroupVersionResource, filter ListFilter) cache.SharedIndexInformer {
	if f.parent != nil {
		return &scopedInformer{SharedIndexInformer: InformerFor[T, L](f.parent, gvr, filter), scope: f}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := informerKey{gvr: gvr, filter: filter.key()}
	if inf, ok := f.informers[k]; ok {
		return inf
	}
	client := For[T, L](f.set, gvr, "")
	apply := func(o *metav1.ListOptions) {
		if filter.LabelSelector != "" {
			o.LabelSelector = filter.LabelSelector
		}
		if filter.FieldSelector != "" {
			o.FieldSelector = filter.FieldSelector
		}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			apply(&o)
			return client.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			apply(&o)
			return client.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(lw, newOf[T](), cache.SharedIndexInformerOptions{
		ResyncPeriod:      f.resync,
		Indexers:          cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
		ObjectDescription: gvr.String(),
	})
	f.informers[k] = inf
	return inf
}

// Start runs every informer created so far that is not yet running; call it
// again after creating more. Informers stop when ctx ends; on a view made
// by Scope they run with the view's root context instead.
func (f *Informers) Start(ctx context.Context) {
	if f.parent != nil {
		f.parent.Start(f.root)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, inf := range f.informers {
		if !f.started[k] {
			f.started[k] = true
			go inf.RunWithContext(ctx)
		}
	}
}

// WaitForCacheSync waits until every started informer has listed once, or
// ctx ends; it reports whether all synced.
func (f *Informers) WaitForCacheSync(ctx context.Context) bool {
	if f.parent != nil {
		return f.parent.WaitForCacheSync(ctx)
	}
	f.mu.Lock()
	var synced []cache.InformerSynced
	for k, inf := range f.informers {
		if f.started[k] {
			synced = append(synced, inf.HasSynced)
		}
	}
	f.mu.Unlock()
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}
