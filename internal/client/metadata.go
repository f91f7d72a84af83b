package client

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
)

// Metadata is a client of any resource that reads and writes object
// metadata only (meta.k8s.io/v1 PartialObjectMetadata): what the garbage
// collector, the namespace controller and quota counting need of resources
// they do not otherwise know.
func (s *Set) Metadata() metadata.Interface { return s.meta }

// metadataFilter marks metadata-only informers in the factory's map.
const metadataFilter = "\x00metadata"

// MetadataInformer returns the shared metadata-only informer of gvr over all
// namespaces, creating it on first use. Its cache holds
// *metav1.PartialObjectMetadata trimmed to identity (name, namespace, uid,
// resourceVersion, creation and deletion times), owner references and
// finalizers: labels, annotations and managed fields are dropped as they
// arrive, so watching a resource this way costs a few hundred bytes per
// object.
func (f *Informers) MetadataInformer(gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	if f.parent != nil {
		return &scopedInformer{SharedIndexInformer: f.parent.MetadataInformer(gvr), scope: f}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := informerKey{gvr: gvr, filter: metadataFilter}
	if inf, ok := f.informers[k]; ok {
		return inf
	}
	res := f.set.meta.Resource(gvr)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return res.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return res.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(lw, &metav1.PartialObjectMetadata{}, cache.SharedIndexInformerOptions{
		ResyncPeriod:      f.resync,
		Indexers:          cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
		ObjectDescription: gvr.String() + " metadata",
	})
	_ = inf.SetTransform(trimMetadata)
	f.informers[k] = inf
	return inf
}

// ForMetadata returns an informer of gvr for readers that need object
// metadata only: the factory's unfiltered typed informer when one has been
// created already (no second watch of the same resource), else the
// metadata-only one. Objects in either implement metav1.Object, but only
// the fields MetadataInformer keeps may be relied on.
func (f *Informers) ForMetadata(gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	base := f
	for base.parent != nil {
		base = base.parent
	}
	base.mu.Lock()
	inf, ok := base.informers[informerKey{gvr: gvr, filter: ListFilter{}.key()}]
	base.mu.Unlock()
	if !ok {
		return f.MetadataInformer(gvr)
	}
	if f.parent != nil {
		return &scopedInformer{SharedIndexInformer: inf, scope: f}
	}
	return inf
}

// trimMetadata keeps what MetadataInformer documents.
func trimMetadata(obj any) (any, error) {
	p, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil // tombstones pass through
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Generation: p.Generation, CreationTimestamp: p.CreationTimestamp,
			DeletionTimestamp: p.DeletionTimestamp, DeletionGracePeriodSeconds: p.DeletionGracePeriodSeconds,
			OwnerReferences: p.OwnerReferences, Finalizers: p.Finalizers,
		},
	}, nil
}

func newMetadataClient(s *Set) error {
	m, err := metadata.NewForConfigAndClient(s.config, s.http)
	if err != nil {
		return fmt.Errorf("metadata client: %w", err)
	}
	s.meta = m
	return nil
}

// Existing returns the factory's informer of gvr if one has been created
// already — the unfiltered typed one, else the metadata-only one — without
// creating any: for a reader that watches a resource by itself when no
// other component does (the garbage collector).
func (f *Informers) Existing(gvr schema.GroupVersionResource) (cache.SharedIndexInformer, bool) {
	base := f
	for base.parent != nil {
		base = base.parent
	}
	base.mu.Lock()
	inf, ok := base.informers[informerKey{gvr: gvr, filter: ListFilter{}.key()}]
	if !ok {
		inf, ok = base.informers[informerKey{gvr: gvr, filter: metadataFilter}]
	}
	base.mu.Unlock()
	if ok && f.parent != nil {
		return &scopedInformer{SharedIndexInformer: inf, scope: f}, true
	}
	return inf, ok
}
