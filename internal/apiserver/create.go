package apiserver

import (
	"context"
	"errors"
	corev1 "k8s.io/api/core/v1"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kserver.dev/kserver/internal/store"
)

// generateNameTries is how often a generated name is retried when taken.
const generateNameTries = 8

func (s *Server) create(c *call) {
	o, err := c.writeOptions("CreateOptions")
	if err != nil {
		c.fail(err)
		return
	}
	in, err := c.decodeRequest(o, c.res.GroupVersionKind())
	if err != nil {
		c.fail(err)
		return
	}
	if b, ok := in.(*corev1.Binding); ok {
		s.createBinding(c, b, o)
		return
	}
	if isReview(in) {
		s.answerReview(c, in)
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
	kv, obj, err := c.createObject(c.ctx, obj, o)
	if err != nil {
		c.fail(err)
		return
	}
	if o.dryRun {
		c.respondObject(obj, http.StatusCreated)
		return
	}
	c.respondStored(kv, http.StatusCreated)
}

// createBinding is POST …/namespaces/<ns>/bindings, the older form of
// pods/<name>/binding.
func (s *Server) createBinding(c *call, b *corev1.Binding, o writeOpts) {
	pods, ok := s.cfg.Catalog.Lookup(gvr("", "v1", "pods"))
	if !ok {
		c.fail(notFoundPath())
		return
	}
	pc := *c
	pc.res, pc.gr = pods, qualified(pods)
	pc.ri.resource, pc.ri.name = "pods", b.Name
	if err := pc.bind(c.ctx, b, o); err != nil {
		c.fail(err)
		return
	}
	c.writeSuccess(http.StatusCreated)
}

// checkURLNamespace fills the object's namespace from the URL or refuses a
// different one, as upstream.
func (c *call) checkURLNamespace(obj runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if !c.res.Namespaced {
		m.SetNamespace("")
		return nil
	}
	switch m.GetNamespace() {
	case "":
		m.SetNamespace(c.ri.namespace)
	case c.ri.namespace:
	default:
		return badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if c.ri.name != "" && m.GetName() != c.ri.name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), c.ri.name)
	}
	return nil
}

// createObject runs a storage-version object through create admission
// (defaults, system fields, cluster-state hooks, validation, managed
// fields) and stores it unless dryRun. It returns the stored key-value
// (zero on dry run) and the final object.
//
// A generateName is resolved first, as upstream's store does before its
// create strategy runs, so that defaulting and PrepareForCreate see the
// real name (a Job's job-name labels, a Namespace's
// kubernetes.io/metadata.name). When a generated name is taken, the whole
// admission runs again on a fresh copy with a new name.
func (c *call) createObject(ctx context.Context, in runtime.Object, o writeOpts) (store.KeyValue, runtime.Object, error) {
	m, err := meta.Accessor(in)
	if err != nil {
		return store.KeyValue{}, nil, err
	}
	if c.ri.name == "" {
		c.ri.name = m.GetName()
	}
	if err := c.checkNamespace(ctx, "create"); err != nil {
		return store.KeyValue{}, nil, err
	}
	if m.GetName() == "" && m.GetGenerateName() == "" {
		return store.KeyValue{}, nil, c.invalid(in, field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
	}
	generated := m.GetName() == ""
	for try := 0; ; try++ {
		obj := in
		if generated {
			obj = in.DeepCopyObject()
			mustAccessor(obj).SetName(generateName(m.GetGenerateName()))
		}
		kv, out, err := c.createOnce(ctx, obj, o)
		if errors.Is(err, store.ErrExists) {
			if generated && try < generateNameTries {
				continue
			}
			return store.KeyValue{}, nil, apierrors.NewAlreadyExists(c.gr, mustAccessor(obj).GetName())
		}
		return kv, out, err
	}
}

// createOnce admits and stores obj under its (final) name; a taken name
// is store.ErrExists.
func (c *call) createOnce(ctx context.Context, obj runtime.Object, o writeOpts) (store.KeyValue, runtime.Object, error) {
	m := mustAccessor(obj)
	c.ri.name = m.GetName()
	st := c.res.Strategy
	st.Default(obj)
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.NewTime(c.s.now().Truncate(1e9)))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	// Managed fields record what the client sent (after defaulting), not
	// what admission adds, as upstream's handler computes them first.
	if !o.apply {
		managed, err := c.createManagedFields(obj, o.manager) // managed_create.go
		if err != nil {
			return store.KeyValue{}, nil, err
		}
		obj = managed
		m = mustAccessor(obj)
	}
	if err := c.s.admitCreate(ctx, c, obj); err != nil { // admission.go
		return store.KeyValue{}, nil, err
	}
	st.PrepareForCreate(ctx, obj)
	if errs := st.Validate(ctx, obj); len(errs) > 0 {
		return store.KeyValue{}, nil, c.invalid(obj, errs)
	}
	for _, w := range st.Warnings(ctx, obj, nil) {
		c.warn(w)
	}
	release, err := c.s.beforeCreate(ctx, c, obj, o.dryRun)
	if err != nil {
		return store.KeyValue{}, nil, err
	}
	if o.dryRun {
		release()
		return store.KeyValue{}, obj, nil
	}
	data, err := encodeStored(obj)
	if err != nil {
		release()
		return store.KeyValue{}, nil, err
	}
	kv, err := c.s.cfg.Store.Create(ctx, objectKey(c.res, m.GetNamespace(), m.GetName()), data, store.WriteOptions{})
	if err != nil {
		release()
		return store.KeyValue{}, nil, err
	}
	c.s.decoded.written(kv, obj)
	return kv, obj, nil
}

// newEmpty is a new, empty object of the resource's storage kind.
func (c *call) newEmpty() runtime.Object {
	obj, err := c.s.codecs.scheme.New(c.storageGVK())
	if err != nil {
		return nil
	}
	obj.GetObjectKind().SetGroupVersionKind(c.storageGVK())
	return obj
}

// generateName appends five random characters to a generateName prefix,
// cutting the prefix so the name stays within 63 characters.
func generateName(prefix string) string {
	const maxPrefix = 63 - 5
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + rand.String(5)
}
