package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"kserver.dev/kserver/internal/client"
)

// objectCache holds the ConfigMaps and Secrets the node's pods use, as the
// kubelet's watch-based managers: each object referenced by a pod (volumes,
// env, envFrom, imagePullSecrets) gets a watch of its own, narrowed to its
// name, for as long as a pod on the node references it. A change syncs the
// pods that reference the object, which is how configMap and secret
// volumes follow their objects within a second. Nothing else of the
// cluster's ConfigMaps and Secrets is listed or held.
type objectCache struct {
	set    *client.Set
	notify func(uid types.UID)

	mu      sync.Mutex
	ctx     context.Context
	entries map[objectKey]*objectEntry
	byPod   map[types.UID][]objectKey
}

type objectKey struct {
	kind            string // "configmaps" or "secrets"
	namespace, name string
}

type objectEntry struct {
	refs   map[types.UID]bool
	obj    client.Object // nil: not found
	rv     string
	synced bool
	// readRV is what a read from the API saw before the watch synced.
	readRV string
	cancel context.CancelFunc
}

func newObjectCache(set *client.Set, notify func(types.UID)) *objectCache {
	return &objectCache{set: set, notify: notify, ctx: context.Background(),
		entries: map[objectKey]*objectEntry{}, byPod: map[types.UID][]objectKey{}}
}

// start sets the context the watches run under.
func (c *objectCache) start(ctx context.Context) {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
}

// podObjects are the ConfigMaps and Secrets a pod references.
func podObjects(pod *corev1.Pod) []objectKey {
	seen := map[objectKey]bool{}
	var out []objectKey
	add := func(kind, name string) {
		k := objectKey{kind, pod.Namespace, name}
		if name != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			add("configmaps", v.ConfigMap.Name)
		case v.Secret != nil:
			add("secrets", v.Secret.SecretName)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add("configmaps", s.ConfigMap.Name)
				}
				if s.Secret != nil {
					add("secrets", s.Secret.Name)
				}
			}
		}
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, ctr := range list {
			for _, e := range ctr.EnvFrom {
				if e.ConfigMapRef != nil {
					add("configmaps", e.ConfigMapRef.Name)
				}
				if e.SecretRef != nil {
					add("secrets", e.SecretRef.Name)
				}
			}
			for _, e := range ctr.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					add("configmaps", e.ValueFrom.ConfigMapKeyRef.Name)
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add("secrets", e.ValueFrom.SecretKeyRef.Name)
				}
			}
		}
	}
	for _, s := range pod.Spec.ImagePullSecrets {
		add("secrets", s.Name)
	}
	return out
}

// register makes the cache follow exactly the objects pod references.
func (c *objectCache) register(pod *corev1.Pod) {
	keys := podObjects(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.byPod[pod.UID]
	want := map[objectKey]bool{}
	for _, k := range keys {
		want[k] = true
		e := c.entries[k]
		if e == nil {
			ctx, cancel := context.WithCancel(c.ctx)
			e = &objectEntry{refs: map[types.UID]bool{}, cancel: cancel}
			c.entries[k] = e
			go c.follow(ctx, k, e)
		}
		e.refs[pod.UID] = true
	}
	for _, k := range old {
		if !want[k] {
			c.dropLocked(k, pod.UID)
		}
	}
	c.byPod[pod.UID] = keys
}

// forget drops every reference of a pod that is gone.
func (c *objectCache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.byPod[uid] {
		c.dropLocked(k, uid)
	}
	delete(c.byPod, uid)
}

func (c *objectCache) dropLocked(k objectKey, uid types.UID) {
	e := c.entries[k]
	if e == nil {
		return
	}
	delete(e.refs, uid)
	if len(e.refs) == 0 {
		e.cancel()
		delete(c.entries, k)
	}
}

// configMap returns a ConfigMap: from its watch when one runs and has
// synced, else from the API.
func (c *objectCache) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	obj, err := c.get(ctx, objectKey{"configmaps", ns, name})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.ConfigMap), nil
}

// secret is configMap for Secrets.
func (c *objectCache) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	obj, err := c.get(ctx, objectKey{"secrets", ns, name})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Secret), nil
}

func (c *objectCache) get(ctx context.Context, k objectKey) (client.Object, error) {
	c.mu.Lock()
	e := c.entries[k]
	if e != nil && e.synced {
		obj := e.obj
		c.mu.Unlock()
		if obj == nil {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: k.kind}, k.name)
		}
		return obj, nil
	}
	c.mu.Unlock()
	var obj client.Object
	var err error
	if k.kind == "configmaps" {
		obj, err = c.set.ConfigMaps(k.namespace).Get(ctx, k.name, metav1.GetOptions{})
	} else {
		obj, err = c.set.Secrets(k.namespace).Get(ctx, k.name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if e := c.entries[k]; e != nil && !e.synced {
		e.readRV = obj.GetResourceVersion()
	}
	c.mu.Unlock()
	return obj, nil
}

// follow lists and watches one object until its last reference goes.
func (c *objectCache) follow(ctx context.Context, k objectKey, e *objectEntry) {
	opts := metav1.ListOptions{FieldSelector: "metadata.name=" + k.name}
	var list func(context.Context, metav1.ListOptions) (runtime.Object, error)
	var watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)
	if k.kind == "configmaps" {
		cl := c.set.ConfigMaps(k.namespace)
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return cl.List(ctx, o) }
		watchFn = cl.Watch
	} else {
		cl := c.set.Secrets(k.namespace)
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return cl.List(ctx, o) }
		watchFn = cl.Watch
	}
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := c.listWatch(ctx, k, e, opts, list, watchFn); err == nil {
			delay = 100 * time.Millisecond
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

func (c *objectCache) listWatch(ctx context.Context, k objectKey, e *objectEntry, opts metav1.ListOptions,
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) error {
	l, err := list(ctx, opts)
	if err != nil {
		return err
	}
	items, err := meta.ExtractList(l)
	if err != nil {
		return err
	}
	var obj client.Object
	if len(items) > 0 {
		obj, _ = items[0].(client.Object)
	}
	c.update(k, e, obj)
	lm, err := meta.ListAccessor(l)
	if err != nil {
		return err
	}
	wopts := opts
	wopts.ResourceVersion, wopts.AllowWatchBookmarks = lm.GetResourceVersion(), true
	w, err := watchFn(ctx, wopts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Added, watch.Modified:
			if o, ok := ev.Object.(client.Object); ok {
				c.update(k, e, o)
			}
		case watch.Deleted:
			c.update(k, e, nil)
		case watch.Error:
			return fmt.Errorf("watch %s %s/%s: %v", k.kind, k.namespace, k.name, apierrors.FromObject(ev.Object))
		}
	}
	return nil // the watch ended: list again
}

// update records a new state of the object and syncs the pods that use it
// when it changed.
func (c *objectCache) update(k objectKey, e *objectEntry, obj client.Object) {
	rv := ""
	if obj != nil {
		rv = obj.GetResourceVersion()
	}
	c.mu.Lock()
	// The first state needs a sync only when it differs from what a pod
	// read from the API before the watch had synced.
	changed := e.synced && rv != e.rv || !e.synced && e.readRV != "" && rv != e.readRV
	e.obj, e.rv, e.synced = obj, rv, true
	var pods []types.UID
	if changed {
		for uid := range e.refs {
			pods = append(pods, uid)
		}
	}
	c.mu.Unlock()
	for _, uid := range pods {
		c.notify(uid)
	}
}

// version is the resource version the watch of k last saw ("" when the
// object does not exist); ok is false until the watch has synced.
func (c *objectCache) version(k objectKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil || !e.synced {
		return "", false
	}
	return e.rv, true
}
