package apiserver

import (
	"context"
	"errors"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Cluster-state hooks: what a write needs beyond the per-type strategy
// (which is pure): namespace lifecycle and ClusterIP/NodePort allocation.

// beforeCreate runs after validation-independent defaulting and before the
// store write. The returned release undoes allocations and quota charges
// when the write does not happen (failure or dry run).
func (s *Server) beforeCreate(ctx context.Context, c *call, obj runtime.Object, dryRun bool) (func(), error) {
	releaseQuota, err := s.admitQuota(ctx, c, obj, dryRun) // quota.go
	if err != nil {
		return nil, err
	}
	release, err := s.beforeCreateState(ctx, c, obj, dryRun)
	if err != nil {
		releaseQuota()
		return nil, err
	}
	return func() { release(); releaseQuota() }, nil
}

// beforeCreateState is the per-type cluster state of a create.
func (s *Server) beforeCreateState(ctx context.Context, c *call, obj runtime.Object, dryRun bool) (func(), error) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		if o.Status.Phase == "" {
			o.Status.Phase = corev1.NamespaceActive
		}
		if len(o.Spec.Finalizers) == 0 {
			o.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
	case *corev1.Service:
		release, err := s.alloc.allocateService(o, nil, dryRun)
		return release, c.hookError(obj, err)
	}
	return func() {}, nil
}

// beforeUpdate runs on every update of the main resource or a subresource.
// The returned release undoes its allocations if the update is not stored.
func (s *Server) beforeUpdate(ctx context.Context, c *call, obj, old runtime.Object) (func(), error) {
	switch o := obj.(type) {
	case *corev1.Service:
		oldSvc, _ := old.(*corev1.Service)
		release, err := s.alloc.allocateService(o, oldSvc, false)
		if err != nil {
			return nil, c.hookError(obj, err)
		}
		return release, nil
	}
	return func() {}, nil
}

// afterUpdate runs after an update was stored (old is nil when the update
// marked the object for deletion).
func (s *Server) afterUpdate(ctx context.Context, c *call, obj, old runtime.Object) {
	lifecycle := s.lifecycleControllers.Load()
	if !lifecycle {
		s.propagateDeletion(c.res, obj)
	}
	s.protectionAfterUpdate(ctx, obj, old) // admit_storage.go
	switch o := obj.(type) {
	case *corev1.Service:
		if oldSvc, ok := old.(*corev1.Service); ok {
			s.alloc.releaseRemoved(oldSvc, o)
		}
	case *corev1.Namespace:
		if o.DeletionTimestamp != nil && old == nil && !lifecycle {
			go s.finalizeNamespace(context.WithoutCancel(ctx), o.Name)
		}
	}
}

// beforeDelete refuses deletions upstream refuses, and turns a namespace
// deletion into Terminating.
func (s *Server) beforeDelete(ctx context.Context, c *call, obj runtime.Object) error {
	if pc, ok := priorityClassOf(obj); ok {
		if err := deletePriorityClass(c, pc); err != nil {
			return err
		}
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		if slices.Contains(systemNamespaces[:3], ns.Name) {
			return apierrors.NewForbidden(c.gr, ns.Name, errors.New("this namespace may not be deleted"))
		}
		// Marked, not deleted (markForDeletion): finalizeNamespace removes
		// the content, then the namespace.
		ns.Status.Phase = corev1.NamespaceTerminating
	}
	return nil
}

// afterDelete releases what the object held.
func (s *Server) afterDelete(ctx context.Context, c *call, obj runtime.Object) {
	s.protectionAfterDelete(ctx, obj)
	if svc, ok := obj.(*corev1.Service); ok {
		s.alloc.releaseService(svc)
	}
}

// hookError turns allocation field errors into upstream's 422.
func (c *call) hookError(obj runtime.Object, err error) error {
	var fe fieldErrors
	if errors.As(err, &fe) {
		return c.invalid(obj, field.ErrorList(fe))
	}
	return err
}

// SetLifecycleControllers tells the server whether the namespace and
// garbage-collector controllers run (kserver server starts them unless
// --disable controllers). While they do, the server leaves deleting a
// terminating namespace's content and processing the orphan and
// foregroundDeletion finalizers to them; otherwise it does that work itself
// so that deletions still complete.
func (s *Server) SetLifecycleControllers(on bool) { s.lifecycleControllers.Store(on) }
