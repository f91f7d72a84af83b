package apiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/store"
)

// systemNamespaces exist in every cluster and cannot be deleted.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

func namespacesKey(name string) string { return "/registry/namespaces/" + name }

// getNamespace reads a namespace; NotFound as upstream when it is missing.
func (s *Server) getNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	kv, err := s.cfg.Store.Get(ctx, namespacesKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
	}
	if err != nil {
		return nil, err
	}
	obj, err := s.decodeStored(corev1.SchemeGroupVersion.WithKind("Namespace"), kv)
	if err != nil {
		return nil, fmt.Errorf("decode namespace %s: %w", name, err)
	}
	return obj.(*corev1.Namespace), nil
}

// finalizeNamespace deletes everything in a terminating namespace, then
// the namespace itself: the work upstream's namespace controller does, kept
// here so that `kubectl delete namespace` completes in a control plane
// without controllers.
func (s *Server) finalizeNamespace(ctx context.Context, name string) {
	log := s.log.With("namespace", name)
	seen := map[string]bool{}
	for _, g := range s.cfg.Catalog.Groups() {
		for _, v := range g.Versions {
			for _, res := range s.cfg.Catalog.Resources(schema.GroupVersion{Group: g.Name, Version: v}) {
				prefix := listPrefix(res, name)
				if !res.Namespaced || seen[prefix] || !res.HasVerb("delete") {
					continue
				}
				seen[prefix] = true
				if err := s.deleteAllIn(ctx, res, name); err != nil {
					log.Warn("deleting namespace content", "resource", res.Resource, "err", err)
				}
			}
		}
	}
	for try := 0; try < maxUpdateRetries; try++ {
		kv, err := s.cfg.Store.Get(ctx, namespacesKey(name))
		if err != nil {
			return
		}
		if _, err := s.cfg.Store.Delete(ctx, namespacesKey(name), kv.ModRevision); !errors.Is(err, store.ErrConflict) {
			if err != nil {
				log.Warn("deleting namespace", "err", err)
			}
			return
		}
	}
}

// deleteAllIn deletes every object of res in namespace ns with a zero
// grace period, waiting for pods' finalizers no longer than a minute.
func (s *Server) deleteAllIn(ctx context.Context, res *registry.Resource, ns string) error {
	c := &call{s: s, ctx: ctx, res: res, gr: qualified(res), ri: requestInfo{gv: res.GroupVersion, namespace: ns, resource: res.Resource}}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		lr, err := s.cfg.Store.List(ctx, listPrefix(res, ns), store.ListOptions{})
		if err != nil {
			return err
		}
		if len(lr.KVs) == 0 {
			return nil
		}
		zero := int64(0)
		for _, kv := range lr.KVs {
			om, err := objectMeta(kv.Value)
			if err != nil {
				return err
			}
			_, _, err = c.deleteObject(ctx, om.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		if !s.waitForEmpty(ctx, res, ns, time.Second) {
			continue
		}
	}
	return fmt.Errorf("objects of %s remain after a minute", res.Resource)
}

// waitForEmpty watches a prefix until it has no keys or d passes.
func (s *Server) waitForEmpty(ctx context.Context, res *registry.Resource, ns string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		n, err := s.cfg.Store.Count(ctx, listPrefix(res, ns))
		if err != nil || n == 0 {
			return err == nil
		}
		w, err := s.cfg.Store.Watch(ctx, listPrefix(res, ns), s.cfg.Store.CurrentRevision())
		if err != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-w.Events():
		}
	}
}
