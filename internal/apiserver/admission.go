package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/store"
)

// Admission: what upstream's default admission plugins do on create,
// beyond the per-type strategy (which is pure). Each plugin is a small
// function in its own file (admit_*.go); admitCreate runs them in
// upstream's order on the defaulted object, after its managed fields were
// recorded and before PrepareForCreate and validation. ResourceQuota runs
// last, with the cluster-state hooks (beforeCreate, quota.go), because it
// charges what the object finally requests. NamespaceLifecycle is
// checkNamespace; DefaultTolerationSeconds is in the pod strategy.
func (s *Server) admitCreate(ctx context.Context, c *call, obj runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		if err := s.admitServiceAccount(ctx, c, o); err != nil {
			return err
		}
		if err := s.admitPodPriority(ctx, c, o); err != nil {
			return err
		}
		return s.admitPodLimits(ctx, c, o)
	case *corev1.Node:
		s.taintNewNode(o)
	case *corev1.PersistentVolumeClaim:
		if err := s.defaultStorageClass(ctx, o); err != nil {
			return err
		}
		o.Finalizers = addFinalizer(o.Finalizers, pvcProtectionFinalizer)
		return s.admitClaimLimits(ctx, c, o)
	case *corev1.PersistentVolume:
		o.Finalizers = addFinalizer(o.Finalizers, pvProtectionFinalizer)
	}
	if pc, ok := priorityClassOf(obj); ok {
		return s.admitPriorityClass(ctx, c, pc, nil)
	}
	return nil
}

// admitUpdateObject is the admission of updates (main resource only).
func (s *Server) admitUpdateObject(ctx context.Context, c *call, obj, old runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		// Priority set on create stays when an update leaves it out, as
		// upstream's Priority plugin keeps it; validation refuses changes.
		if op, ok := old.(*corev1.Pod); ok {
			if o.Spec.Priority == nil {
				o.Spec.Priority = op.Spec.Priority
			}
			if o.Spec.PreemptionPolicy == nil {
				o.Spec.PreemptionPolicy = op.Spec.PreemptionPolicy
			}
		}
	}
	if pc, ok := priorityClassOf(obj); ok {
		oldPC, _ := priorityClassOf(old)
		return s.admitPriorityClass(ctx, c, pc, oldPC)
	}
	return nil
}

// forbidden is admission's 403 for obj ("pods \"x\" is forbidden: …"),
// naming the object by its generateName when it has no name yet.
func (c *call) forbidden(obj runtime.Object, err error) error {
	name := c.ri.name
	if m, e := meta.Accessor(obj); e == nil {
		if name = m.GetName(); name == "" {
			name = m.GetGenerateName()
		}
	}
	return apierrors.NewForbidden(c.gr, name, err)
}

// getStored reads one object of resource r in its storage version;
// missing objects are store.ErrNotFound.
func (s *Server) getStored(ctx context.Context, r schema.GroupVersionResource, ns, name string) (runtime.Object, error) {
	res, ok := s.cfg.Catalog.Lookup(r)
	if !ok {
		return nil, fmt.Errorf("%s is not served", r)
	}
	kv, err := s.cfg.Store.Get(ctx, objectKey(res, ns, name))
	if err != nil {
		return nil, err
	}
	return s.decodeStored(res.StorageVersion.WithKind(res.Kind), kv)
}

// listStored reads every object of resource r in namespace ns ("" = all
// or cluster-scoped).
func (s *Server) listStored(ctx context.Context, r schema.GroupVersionResource, ns string) ([]runtime.Object, error) {
	res, ok := s.cfg.Catalog.Lookup(r)
	if !ok {
		return nil, nil
	}
	lr, err := s.cfg.Store.List(ctx, listPrefix(res, ns), store.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, 0, len(lr.KVs))
	for _, kv := range lr.KVs {
		o, err := s.decodeStored(res.StorageVersion.WithKind(res.Kind), kv)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
