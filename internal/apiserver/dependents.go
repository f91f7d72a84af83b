package apiserver

import (
	"context"
	"errors"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/store"
)

// Deletion propagation for the orphan and foregroundDeletion finalizers.
// Upstream's garbage-collector controller does this work; until kserver has
// one, the API server processes these two finalizers itself so that
// `kubectl delete --cascade=orphan|foreground` completes. The work is
// idempotent (a finalizer or owner reference already gone is skipped), so a
// garbage collector added later may take it over. Background propagation
// (dependents deleted after their owner) is left to that controller.

// dependentsWait bounds how long a foreground deletion waits for its
// blocking dependents.
const dependentsWait = 5 * time.Minute

// propagateDeletion starts processing obj's deletion finalizers, once per
// object at a time.
func (s *Server) propagateDeletion(res *registry.Resource, obj runtime.Object) {
	m := mustAccessor(obj)
	if m.GetDeletionTimestamp() == nil {
		return
	}
	fs := m.GetFinalizers()
	orphan := slices.Contains(fs, metav1.FinalizerOrphanDependents)
	foreground := slices.Contains(fs, metav1.FinalizerDeleteDependents)
	if !orphan && !foreground {
		return
	}
	if _, busy := s.propagating.LoadOrStore(m.GetUID(), true); busy {
		return
	}
	owner := ownerRef{res: res, ns: m.GetNamespace(), name: m.GetName(), uid: m.GetUID()}
	go func() {
		defer s.propagating.Delete(owner.uid)
		ctx, cancel := context.WithTimeout(context.Background(), dependentsWait)
		defer cancel()
		log := s.log.With("resource", res.Resource, "namespace", owner.ns, "name", owner.name)
		var err error
		if orphan {
			err = s.orphanDependents(ctx, owner)
		} else {
			err = s.deleteDependents(ctx, owner)
		}
		if err != nil {
			log.Warn("propagating deletion", "err", err)
			return
		}
		finalizer := metav1.FinalizerDeleteDependents
		if orphan {
			finalizer = metav1.FinalizerOrphanDependents
		}
		if err := s.removeFinalizer(ctx, owner, finalizer); err != nil {
			log.Warn("removing finalizer", "finalizer", finalizer, "err", err)
		}
	}()
}

type ownerRef struct {
	res  *registry.Resource
	ns   string
	name string
	uid  types.UID
}

// dependent is an object with an owner reference to the owner.
type dependent struct {
	res      *registry.Resource
	ns, name string
	blocking bool // blockOwnerDeletion
	deleting bool // already has a deletionTimestamp
}

// dependentsOf scans every resource (in the owner's namespace, or all for a
// cluster-scoped owner) for objects owned by owner.
func (s *Server) dependentsOf(ctx context.Context, owner ownerRef) ([]dependent, error) {
	var out []dependent
	seen := map[string]bool{}
	for _, g := range s.cfg.Catalog.Groups() {
		for _, v := range g.Versions {
			for _, res := range s.cfg.Catalog.Resources(schema.GroupVersion{Group: g.Name, Version: v}) {
				prefix := listPrefix(res, owner.ns)
				if seen[prefix] || !res.HasVerb("update") || (owner.ns != "" && !res.Namespaced) {
					continue
				}
				seen[prefix] = true
				lr, err := s.cfg.Store.List(ctx, prefix, store.ListOptions{})
				if err != nil {
					return nil, err
				}
				for _, kv := range lr.KVs {
					om, err := objectMeta(kv.Value)
					if err != nil {
						continue
					}
					for _, ref := range om.OwnerReferences {
						if ref.UID == owner.uid {
							out = append(out, dependent{res: res, ns: om.Namespace, name: om.Name,
								blocking: ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion,
								deleting: om.DeletionTimestamp != nil})
						}
					}
				}
			}
		}
	}
	return out, nil
}

func (s *Server) internalCall(ctx context.Context, res *registry.Resource, ns, name string) *call {
	return &call{s: s, ctx: ctx, res: res, gr: qualified(res),
		ri: requestInfo{gv: res.GroupVersion, namespace: ns, resource: res.Resource, name: name}}
}

// orphanDependents removes the owner's reference from every dependent.
func (s *Server) orphanDependents(ctx context.Context, owner ownerRef) error {
	deps, err := s.dependentsOf(ctx, owner)
	if err != nil {
		return err
	}
	for _, d := range deps {
		c := s.internalCall(ctx, d.res, d.ns, d.name)
		_, _, _, err := c.updateObject(ctx, writeOpts{manager: "garbage-collector"}, "", func(cur runtime.Object) (runtime.Object, error) {
			if cur == nil {
				return nil, errGone
			}
			m := mustAccessor(cur)
			m.SetOwnerReferences(slices.DeleteFunc(m.GetOwnerReferences(), func(r metav1.OwnerReference) bool { return r.UID == owner.uid }))
			m.SetResourceVersion("")
			return cur, nil
		})
		if err != nil && !errors.Is(err, errGone) && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// deleteDependents deletes every dependent in the foreground and waits
// until the blocking ones are gone.
func (s *Server) deleteDependents(ctx context.Context, owner ownerRef) error {
	fg := metav1.DeletePropagationForeground
	for {
		deps, err := s.dependentsOf(ctx, owner)
		if err != nil {
			return err
		}
		blocking := 0
		for _, d := range deps {
			if d.deleting {
				if d.blocking {
					blocking++
				}
				continue
			}
			c := s.internalCall(ctx, d.res, d.ns, d.name)
			_, obj, err := c.deleteObject(ctx, d.name, metav1.DeleteOptions{PropagationPolicy: &fg})
			if err != nil && !isNotFound(err) {
				return err
			}
			if err == nil && d.blocking && obj != nil && mustAccessor(obj).GetDeletionTimestamp() != nil {
				blocking++
			}
		}
		if blocking == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// removeFinalizer drops one finalizer from the owner (deleting it when it
// was the last one).
func (s *Server) removeFinalizer(ctx context.Context, owner ownerRef, finalizer string) error {
	c := s.internalCall(ctx, owner.res, owner.ns, owner.name)
	_, _, _, err := c.updateObject(ctx, writeOpts{manager: "garbage-collector"}, "", func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, errGone
		}
		m := mustAccessor(cur)
		if m.GetUID() != owner.uid {
			return nil, errGone
		}
		m.SetFinalizers(slices.DeleteFunc(m.GetFinalizers(), func(f string) bool { return f == finalizer }))
		m.SetResourceVersion("")
		return cur, nil
	})
	if errors.Is(err, errGone) || isNotFound(err) {
		return nil
	}
	return err
}

var errGone = errors.New("object is gone")

func isNotFound(err error) bool {
	var st interface{ Status() metav1.Status }
	if errors.As(err, &st) {
		return st.Status().Reason == metav1.StatusReasonNotFound
	}
	return errors.Is(err, store.ErrNotFound)
}
