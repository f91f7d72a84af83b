package garbagecollector

import (
	"context"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
)

// A resource the collector must see but no other component watches is
// followed by a bare reflector (list, then watch, as metadata only) that
// feeds the graph directly: no informer cache, no event handler queue —
// nothing is kept of objects that take no part in ownership.

// feed is the reflector's store: it turns what the reflector sees into
// graph changes and keeps nothing.
type feed struct {
	c      *Controller
	r      client.Resource
	synced atomic.Bool
}

var _ cache.ReflectorStore = (*feed)(nil)

func (f *feed) Add(o any) error    { f.c.push(eventAdded, f.r, o); return nil }
func (f *feed) Update(o any) error { f.c.push(eventUpdated, f.r, o); return nil }
func (f *feed) Delete(o any) error { f.c.push(eventDeleted, f.r, o); return nil }
func (f *feed) Resync() error      { return nil }

// Replace is a (re)list: every object is (re)announced, and the graph
// drops the nodes of this resource that are no longer there.
func (f *feed) Replace(list []any, _ string) error {
	present := make(map[types.UID]struct{}, len(list))
	for _, o := range list {
		f.c.push(eventAdded, f.r, o)
		if m, ok := o.(metav1.Object); ok {
			present[m.GetUID()] = struct{}{}
		}
	}
	f.c.changes.Add(&event{typ: eventReplaced, id: identity{APIVersion: f.r.GVR.GroupVersion().String(), Kind: f.r.Kind},
		present: present})
	f.synced.Store(true)
	return nil
}

// watchAlone starts a reflector over r's metadata until ctx ends and
// returns its HasSynced.
func (c *Controller) watchAlone(ctx context.Context, r client.Resource) cache.InformerSynced {
	api := c.set.Metadata().Resource(r.GVR)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return api.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return api.Watch(ctx, o)
		},
	}
	f := &feed{c: c, r: r}
	refl := cache.NewReflectorWithOptions(lw, &metav1.PartialObjectMetadata{}, f, cache.ReflectorOptions{
		Name: "garbage collector", TypeDescription: r.GVR.String() + " metadata"})
	go refl.RunWithContext(ctx)
	return f.synced.Load
}
