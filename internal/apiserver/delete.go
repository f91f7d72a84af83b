package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kserver.dev/kserver/internal/store"
)

// deleteOptions reads DeleteOptions from the body (JSON, YAML or protobuf)
// or, without a body, from the query, and validates them.
func (c *call) deleteOptions() (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := c.body()
	if err != nil {
		return opts, err
	}
	if len(body) > 0 {
		want := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
		d, err := c.s.codecs.decodeBody(c.r.Header.Get("Content-Type"), body, want)
		if err != nil {
			return opts, err
		}
		o, ok := d.obj.(*metav1.DeleteOptions)
		if !ok {
			return opts, badRequest("the body of a delete must be DeleteOptions, not %s", d.gvk.Kind)
		}
		opts = *o
	}
	q := c.r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return opts, badRequest("invalid gracePeriodSeconds %q", v)
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := isTrue(v)
		opts.OrphanDependents = &b
	}
	opts.DryRun = append(opts.DryRun, q["dryRun"]...)
	var errs field.ErrorList
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			errs = append(errs, field.NotSupported(field.NewPath("dryRun"), v, []string{metav1.DryRunAll}))
		}
	}
	if opts.OrphanDependents != nil && opts.PropagationPolicy != nil {
		errs = append(errs, field.Invalid(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, "orphanDependents and deletionPropagation cannot be both set"))
	}
	if p := opts.PropagationPolicy; p != nil && !slices.Contains([]metav1.DeletionPropagation{metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground}, *p) {
		errs = append(errs, field.NotSupported(field.NewPath("propagationPolicy"), *p, []string{"Foreground", "Background", "Orphan", "nil"}))
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	if len(errs) > 0 {
		return opts, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "DeleteOptions"}, "", errs)
	}
	return opts, nil
}

func (s *Server) delete(c *call) {
	opts, err := c.deleteOptions()
	if err != nil {
		c.fail(err)
		return
	}
	kv, obj, err := c.deleteObject(c.ctx, c.ri.name, opts)
	if err != nil {
		c.fail(err)
		return
	}
	if len(opts.DryRun) > 0 || kv.Key == "" {
		c.respondObject(obj, http.StatusOK)
		return
	}
	c.respondStored(kv, http.StatusOK)
}

// deleteObject deletes one object, or marks it for deletion when
// finalizers, a grace period (pods) or a foreground/orphan policy keep it
// for now. It returns the deleted or updated object.
func (c *call) deleteObject(ctx context.Context, name string, opts metav1.DeleteOptions) (store.KeyValue, runtime.Object, error) {
	key := objectKey(c.res, c.ri.namespace, name)
	dryRun := len(opts.DryRun) > 0
	for try := 0; ; try++ {
		kv, err := c.s.cfg.Store.Get(ctx, key)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return store.KeyValue{}, nil, apierrors.NewNotFound(c.gr, name)
			}
			return store.KeyValue{}, nil, err
		}
		obj, err := c.s.decodeStored(c.storageGVK(), kv)
		if err != nil {
			return store.KeyValue{}, nil, err
		}
		m, _ := meta.Accessor(obj)
		if err := checkPreconditions(c.gr, name, opts.Preconditions, m); err != nil {
			return store.KeyValue{}, nil, err
		}
		if err := c.s.beforeDelete(ctx, c, obj); err != nil {
			return store.KeyValue{}, nil, err
		}
		if c.markForDeletion(obj, opts) {
			if dryRun {
				return store.KeyValue{}, obj, nil
			}
			data, err := encodeStored(obj)
			if err != nil {
				return store.KeyValue{}, nil, err
			}
			nkv, err := c.s.cfg.Store.Update(ctx, key, data, kv.ModRevision, store.WriteOptions{})
			if errors.Is(err, store.ErrConflict) && try < maxUpdateRetries {
				continue
			}
			if err == nil {
				c.s.afterUpdate(ctx, c, obj, nil)
			}
			return nkv, obj, err
		}
		if dryRun {
			return store.KeyValue{}, obj, nil
		}
		dkv, err := c.s.cfg.Store.Delete(ctx, key, kv.ModRevision)
		if errors.Is(err, store.ErrConflict) && try < maxUpdateRetries {
			continue
		}
		if err != nil {
			return store.KeyValue{}, nil, err
		}
		c.s.afterDelete(ctx, c, obj)
		return dkv, obj, nil
	}
}

func checkPreconditions(gr schema.GroupResource, name string, p *metav1.Preconditions, m metav1.Object) error {
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}

// markForDeletion sets deletionTimestamp (and the finalizers a
// propagation policy asks for) when the object cannot go at once; it
// reports whether the object must be updated instead of deleted.
func (c *call) markForDeletion(obj runtime.Object, opts metav1.DeleteOptions) bool {
	m, _ := meta.Accessor(obj)
	grace := c.gracePeriod(obj, opts)
	finalizers := m.GetFinalizers()
	policy := metav1.DeletePropagationBackground
	if opts.PropagationPolicy != nil {
		policy = *opts.PropagationPolicy
	} else if opts.OrphanDependents != nil && *opts.OrphanDependents {
		policy = metav1.DeletePropagationOrphan
	}
	switch policy {
	case metav1.DeletePropagationForeground:
		finalizers = addFinalizer(finalizers, metav1.FinalizerDeleteDependents)
	case metav1.DeletePropagationOrphan:
		finalizers = addFinalizer(finalizers, metav1.FinalizerOrphanDependents)
	}
	ns, isNS := obj.(*corev1.Namespace)
	pendingNS := isNS && len(ns.Spec.Finalizers) > 0
	if len(finalizers) == 0 && grace == 0 && !pendingNS {
		return false
	}
	m.SetFinalizers(finalizers)
	now := c.s.now()
	if old := m.GetDeletionTimestamp(); old == nil {
		ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second).Truncate(time.Second))
		m.SetDeletionTimestamp(&ts)
		m.SetDeletionGracePeriodSeconds(&grace)
	} else if g := m.GetDeletionGracePeriodSeconds(); g != nil && grace < *g {
		// A shorter grace period moves the deadline forward.
		ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second).Truncate(time.Second))
		m.SetDeletionTimestamp(&ts)
		m.SetDeletionGracePeriodSeconds(&grace)
	}
	return len(finalizers) > 0 || grace > 0 || pendingNS
}

func addFinalizer(fs []string, f string) []string {
	if slices.Contains(fs, f) {
		return fs
	}
	return append(slices.Clip(fs), f)
}

// gracePeriod is how long the object is kept with deletionTimestamp before
// it goes: only pods bound to a node and not yet finished have one.
func (c *call) gracePeriod(obj runtime.Object, opts metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return 0
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if g := pod.DeletionGracePeriodSeconds; g != nil && *g < grace {
		grace = *g
	}
	return grace
}

func (s *Server) deleteCollection(c *call) {
	opts, err := c.deleteOptions()
	if err != nil {
		c.fail(err)
		return
	}
	lo, err := c.listOptions(false)
	if err != nil {
		c.fail(err)
		return
	}
	p, err := c.collect(listOpts{match: lo.match}, listPrefix(c.res, c.ri.namespace))
	if err != nil {
		c.fail(err)
		return
	}
	var deleted []runtime.Object
	for _, kv := range p.kvs {
		om, err := objectMeta(kv.Value)
		if err != nil {
			c.fail(err)
			return
		}
		sub := *c
		sub.ri.namespace = om.Namespace
		_, obj, err := sub.deleteObject(c.ctx, om.Name, opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			c.fail(err)
			return
		}
		deleted = append(deleted, obj)
	}
	body, err := c.typedList(deleted, strconv.FormatInt(c.s.cfg.Store.CurrentRevision(), 10), page{})
	if err != nil {
		c.fail(err)
		return
	}
	c.write(http.StatusOK, body)
}
