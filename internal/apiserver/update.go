package apiserver

import (
	"context"
	"errors"
	corev1 "k8s.io/api/core/v1"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kserver.dev/kserver/internal/store"
)

// maxUpdateRetries bounds the read-modify-write loop of updates without a
// resourceVersion precondition when racing other writers.
const maxUpdateRetries = 16

func (s *Server) update(c *call) {
	o, err := c.writeOptions("UpdateOptions")
	if err != nil {
		c.fail(err)
		return
	}
	o.put = true
	in, err := c.decodeRequest(o, c.res.GroupVersionKind())
	if err != nil {
		c.fail(err)
		return
	}
	obj, err := c.toStorage(in)
	if err != nil {
		c.fail(err)
		return
	}
	if err := c.checkURLNamespace(obj); err != nil {
		c.fail(err)
		return
	}
	kv, out, created, err := c.updateObject(c.ctx, o, "", func(current runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		c.fail(err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	if o.dryRun {
		c.respondObject(out, code)
		return
	}
	c.respondStored(kv, code)
}

// mutateFunc computes the new storage-version object from the current one
// (nil when the object does not exist yet). A resourceVersion left in the
// result is a precondition.
type mutateFunc func(current runtime.Object) (runtime.Object, error)

// updateObject is the read-modify-write loop shared by update, patch and
// the status and scale subresources. subresource selects the strategy
// hook ("" or "status"). It retries when another writer got in between,
// unless the client asked for a specific resourceVersion.
func (c *call) updateObject(ctx context.Context, o writeOpts, subresource string, mutate mutateFunc) (store.KeyValue, runtime.Object, bool, error) {
	key := objectKey(c.res, c.ri.namespace, c.ri.name)
	for try := 0; ; try++ {
		kv, err := c.s.cfg.Store.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return c.createOnUpdate(ctx, o, subresource, mutate)
		}
		if err != nil {
			return store.KeyValue{}, nil, false, err
		}
		old, err := c.s.decodeStored(c.storageGVK(), kv)
		if err != nil {
			return store.KeyValue{}, nil, false, err
		}
		c.current = kv
		obj, err := mutate(old.DeepCopyObject())
		if err != nil {
			return store.KeyValue{}, nil, false, err
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return store.KeyValue{}, nil, false, err
		}
		oldMeta, _ := meta.Accessor(old)
		if m.GetName() != oldMeta.GetName() {
			return store.KeyValue{}, nil, false, badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), oldMeta.GetName())
		}
		if m.GetNamespace() != oldMeta.GetNamespace() {
			return store.KeyValue{}, nil, false, badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		precondition := m.GetResourceVersion() != ""
		if !precondition && o.put && !c.allowUnconditionalUpdate() {
			return store.KeyValue{}, nil, false, apierrors.NewInvalid(schema.GroupKind{Group: c.gr.Group, Kind: c.gr.Resource}, c.ri.name,
				field.ErrorList{field.Invalid(field.NewPath("metadata", "resourceVersion"), 0, "must be specified for an update")})
		}
		if precondition && m.GetResourceVersion() != oldMeta.GetResourceVersion() {
			return store.KeyValue{}, nil, false, apierrors.NewConflict(c.gr, c.ri.name, errors.New(errConflictMsg))
		}
		release, err := c.admitUpdate(ctx, obj, old, subresource, o)
		if err != nil {
			return store.KeyValue{}, nil, false, err
		}
		data, err := encodeStored(obj)
		if err != nil {
			release()
			return store.KeyValue{}, nil, false, err
		}
		if o.dryRun {
			release()
			return store.KeyValue{}, obj, false, nil
		}
		if string(data) == string(kv.Value) {
			return kv, old, false, nil // no-op: nothing written, resourceVersion unchanged
		}
		if shouldDeleteDuringUpdate(obj, old) {
			dkv, err := c.s.cfg.Store.Delete(ctx, key, kv.ModRevision)
			if err == nil {
				c.s.afterDelete(ctx, c, old)
				return store.KeyValue{Key: key, Value: data, ModRevision: dkv.ModRevision}, obj, false, nil
			}
			release()
			if errors.Is(err, store.ErrConflict) && !precondition && try < maxUpdateRetries {
				continue
			}
			return store.KeyValue{}, nil, false, err
		}
		nkv, err := c.s.cfg.Store.Update(ctx, key, data, kv.ModRevision, store.WriteOptions{})
		if err != nil {
			release()
			if errors.Is(err, store.ErrConflict) && !precondition && try < maxUpdateRetries {
				continue
			}
			return store.KeyValue{}, nil, false, err
		}
		c.s.decoded.written(nkv, obj)
		c.s.afterUpdate(ctx, c, obj, old)
		return nkv, obj, false, nil
	}
}

// createOnUpdate handles a PUT or apply of an object that does not exist:
// created for the resources upstream allows it on, 404 otherwise.
func (c *call) createOnUpdate(ctx context.Context, o writeOpts, subresource string, mutate mutateFunc) (store.KeyValue, runtime.Object, bool, error) {
	if subresource != "" || (!o.apply && !c.allowCreateOnUpdate()) {
		return store.KeyValue{}, nil, false, apierrors.NewNotFound(c.gr, c.ri.name)
	}
	obj, err := mutate(nil)
	if err != nil {
		return store.KeyValue{}, nil, false, err
	}
	if m, err := meta.Accessor(obj); err == nil && m.GetResourceVersion() != "" {
		return store.KeyValue{}, nil, false, apierrors.NewNotFound(c.gr, c.ri.name)
	}
	kv, out, err := c.createObject(ctx, obj, o)
	return kv, out, true, err
}

// admitUpdate carries system fields over from old, then runs the
// strategy's update hooks, cluster-state hooks, validation and managed
// fields on obj in place.
func (c *call) admitUpdate(ctx context.Context, obj, old runtime.Object, subresource string, o writeOpts) (release func(), err error) {
	m, _ := meta.Accessor(obj)
	om, _ := meta.Accessor(old)
	if m.GetUID() == "" {
		m.SetUID(om.GetUID())
	}
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	m.SetGeneration(om.GetGeneration())
	m.SetResourceVersion(om.GetResourceVersion())
	st := c.res.Strategy
	// A binding is the server's own change of an otherwise immutable
	// field (spec.nodeName), finalize changes only spec.finalizers: no
	// strategy hooks, no validation.
	if subresource != "binding" && subresource != "finalize" {
		st.Default(obj)
		if subresource == "" {
			if err := c.s.admitUpdateObject(ctx, c, obj, old); err != nil { // admission.go
				return nil, err
			}
		}
		switch subresource {
		case "status":
			st.PrepareForStatusUpdate(ctx, obj, old)
		case "ephemeralcontainers":
			if errs := prepareEphemeralUpdate(obj, old); len(errs) > 0 { // ephemeral.go
				return nil, c.invalid(obj, errs)
			}
		default:
			st.PrepareForUpdate(ctx, obj, old)
		}
		if subresource != "ephemeralcontainers" { // validated above; the rest is the stored pod
			if errs := st.ValidateUpdate(ctx, obj, old); len(errs) > 0 {
				return nil, c.invalid(obj, errs)
			}
		}
		if release, err = c.s.beforeUpdate(ctx, c, obj, old); err != nil {
			return nil, err
		}
		for _, w := range st.Warnings(ctx, obj, old) {
			c.warn(w)
		}
	}
	// Upstream's binding writes the pod below the request handler, so the
	// pod's managed fields do not change (and computing them would cost more
	// than the rest of the binding).
	if release == nil {
		release = func() {}
	}
	if o.apply || subresource == "binding" {
		return release, nil
	}
	managed, err := c.updateManagedFields(old, obj, o.manager, subresource)
	if err != nil {
		release()
		return nil, err
	}
	if managed != obj {
		mm, _ := meta.Accessor(managed)
		m.SetManagedFields(mm.GetManagedFields())
	}
	return release, nil
}

// allowUnconditionalUpdate says whether a PUT without resourceVersion
// updates whatever is stored (the stored resourceVersion is used), as
// upstream's strategies allow for most resources. Those listed here
// refuse it with 422 "must be specified for an update" (upstream's
// AllowUnconditionalUpdate returns false for them).
func (c *call) allowUnconditionalUpdate() bool {
	switch c.gr.String() {
	case "leases.coordination.k8s.io", "runtimeclasses.node.k8s.io",
		"validatingwebhookconfigurations.admissionregistration.k8s.io", "mutatingwebhookconfigurations.admissionregistration.k8s.io",
		"validatingadmissionpolicies.admissionregistration.k8s.io", "validatingadmissionpolicybindings.admissionregistration.k8s.io",
		"mutatingadmissionpolicies.admissionregistration.k8s.io", "mutatingadmissionpolicybindings.admissionregistration.k8s.io",
		"csidrivers.storage.k8s.io", "csinodes.storage.k8s.io", "volumeattachments.storage.k8s.io":
		return false
	}
	return true
}

// allowCreateOnUpdate lists the resources a PUT may create, as upstream's
// strategies declare.
func (c *call) allowCreateOnUpdate() bool {
	switch c.gr.String() {
	case "endpoints", "events", "events.events.k8s.io", "limitranges", "leases.coordination.k8s.io",
		"endpointslices.discovery.k8s.io", "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io",
		"clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io", "runtimeclasses.node.k8s.io":
		return true
	}
	return false
}

// shouldDeleteDuringUpdate: an object pending deletion whose last
// finalizer was just removed goes away, as upstream.
func shouldDeleteDuringUpdate(obj, old runtime.Object) bool {
	m, _ := meta.Accessor(obj)
	om, _ := meta.Accessor(old)
	if om.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
		return false
	}
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return false
	}
	g := om.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}
