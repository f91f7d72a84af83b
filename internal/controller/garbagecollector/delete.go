package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ownerState is what became of an owner.
type ownerState int

const (
	ownerSolid    ownerState = iota // exists and is not waiting for its dependents
	ownerDangling                   // gone, replaced (other UID) or unresolvable
	ownerWaiting                    // being deleted in the foreground
)

// attemptToDelete decides about one node: checks a virtual owner's
// existence, drives a foreground deletion, or deletes an object whose
// owners are all gone.
func (c *Controller) attemptToDelete(ctx context.Context, key string) error {
	n := c.graph.get(types.UID(key))
	if n == nil {
		return nil
	}
	c.graph.mu.RLock()
	virtual, id := n.virtual, n.id
	c.graph.mu.RUnlock()
	if virtual {
		return c.verifyVirtual(ctx, n, id)
	}
	latest, err := c.getObject(ctx, id)
	if apierrors.IsNotFound(err) {
		c.pushGone(id)
		return nil
	}
	if err != nil {
		return err
	}
	if latest.DeletionTimestamp != nil {
		if hasFinalizer(latest.Finalizers, metav1.FinalizerDeleteDependents) {
			return c.processDeletingDependents(ctx, n, latest)
		}
		return nil // on its way out already
	}
	if len(latest.OwnerReferences) == 0 {
		return nil
	}
	solid, dangling, waiting, err := c.classifyOwners(ctx, id, latest)
	if err != nil {
		return err
	}
	switch {
	case len(solid) > 0:
		if len(dangling) == 0 && len(waiting) == 0 {
			return nil
		}
		// Still owned: only drop the references to gone owners and stop
		// blocking owners that wait for their dependents.
		return c.patchOwners(ctx, id, latest, func(r metav1.OwnerReference) (metav1.OwnerReference, bool) {
			if containsUID(dangling, r.UID) {
				return r, false
			}
			if containsUID(waiting, r.UID) {
				r.BlockOwnerDeletion = nil
			}
			return r, true
		})
	case len(waiting) > 0 && len(c.graph.dependentsOf(n)) > 0:
		// An owner waits for us and we have dependents: go in the
		// foreground too, so the chain is deleted bottom-up.
		fg := metav1.DeletePropagationForeground
		return c.deleteObject(ctx, id, &fg)
	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case hasFinalizer(latest.Finalizers, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case hasFinalizer(latest.Finalizers, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		return c.deleteObject(ctx, id, &policy)
	}
}

// classifyOwners sorts latest's owner references by what became of the
// owners.
func (c *Controller) classifyOwners(ctx context.Context, id identity, latest *metav1.PartialObjectMetadata) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, ref := range latest.OwnerReferences {
		st, err := c.ownerState(ctx, ref, id)
		if err != nil {
			return nil, nil, nil, err
		}
		switch st {
		case ownerSolid:
			solid = append(solid, ref)
		case ownerDangling:
			dangling = append(dangling, ref)
		case ownerWaiting:
			waiting = append(waiting, ref)
		}
	}
	return solid, dangling, waiting, nil
}

// verifyVirtual checks whether an owner known only from references
// exists; if it does not, the graph learns it is gone and its dependents
// are looked at.
func (c *Controller) verifyVirtual(ctx context.Context, n *node, id identity) error {
	r, ok := c.resources.ForKind(id.groupKind())
	if !ok {
		return nil // a kind the server does not serve: nothing to watch or delete
	}
	if !r.Namespaced {
		id.Namespace = ""
	}
	latest, err := c.getObject(ctx, id)
	switch {
	case apierrors.IsNotFound(err) || (err == nil && latest.UID != id.UID):
		c.pushGone(id)
		return nil
	case err != nil:
		return err
	}
	return nil // it exists: its informer event makes the node a real one
}

// processDeletingDependents drives a foreground deletion: the dependents
// are deleted; once none blocks, the owner's finalizer goes.
func (c *Controller) processDeletingDependents(ctx context.Context, n *node, latest *metav1.PartialObjectMetadata) error {
	var blocking int
	for _, d := range c.graph.dependentsOf(n) {
		c.graph.mu.RLock()
		b, deleting := n.blockedBy(d), d.deleting
		c.graph.mu.RUnlock()
		if !b {
			continue
		}
		blocking++
		if !deleting {
			c.toDelete.Add(string(d.id.UID))
		}
	}
	if blocking > 0 {
		return nil // their deletion events bring us back here
	}
	return c.removeFinalizer(ctx, n.id, latest, metav1.FinalizerDeleteDependents)
}

// ownerState finds out what became of the owner ref of dependent.
func (c *Controller) ownerState(ctx context.Context, ref metav1.OwnerReference, dependent identity) (ownerState, error) {
	gk := identity{APIVersion: ref.APIVersion, Kind: ref.Kind}.groupKind()
	r, ok := c.resources.ForKind(gk)
	if !ok {
		c.logger.Debug("owner of a kind the server does not serve", "kind", gk.String(), "name", ref.Name)
		return ownerSolid, nil // never delete on a reference we cannot check
	}
	ns := ""
	if r.Namespaced {
		if dependent.Namespace == "" {
			c.rec.Eventf(&corev1.ObjectReference{APIVersion: dependent.APIVersion, Kind: dependent.Kind, Name: dependent.Name, UID: dependent.UID},
				corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
				"ownerRef %s does not exist in namespace %q", refString(ref), dependent.Namespace)
			return ownerDangling, nil
		}
		ns = dependent.Namespace
	}
	if c.absent.has(ref.UID) {
		return ownerDangling, nil
	}
	id := identity{APIVersion: r.GVR.GroupVersion().String(), Kind: r.Kind, Namespace: ns, Name: ref.Name, UID: ref.UID}
	owner, err := c.getObject(ctx, id)
	switch {
	case apierrors.IsNotFound(err):
		c.absent.add(ref.UID)
		return ownerDangling, nil
	case err != nil:
		return 0, err
	case owner.UID != ref.UID:
		c.absent.add(ref.UID)
		return ownerDangling, nil
	case owner.DeletionTimestamp != nil && hasFinalizer(owner.Finalizers, metav1.FinalizerDeleteDependents):
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

// getObject reads the latest metadata of id from the API.
func (c *Controller) getObject(ctx context.Context, id identity) (*metav1.PartialObjectMetadata, error) {
	r, ok := c.resources.ForKind(id.groupKind())
	if !ok {
		return nil, fmt.Errorf("no resource for %s", id.groupKind())
	}
	ns := id.Namespace
	if !r.Namespaced {
		ns = ""
	}
	return c.set.Metadata().Resource(r.GVR).Namespace(ns).Get(ctx, id.Name, metav1.GetOptions{})
}

// deleteObject deletes id (only that very object: UID precondition).
func (c *Controller) deleteObject(ctx context.Context, id identity, policy *metav1.DeletionPropagation) error {
	r, ok := c.resources.ForKind(id.groupKind())
	if !ok {
		return nil
	}
	uid := id.UID
	err := c.set.Metadata().Resource(r.GVR).Namespace(id.Namespace).Delete(ctx, id.Name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: policy})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or a new object of that name: not ours to delete
	}
	if err != nil {
		return fmt.Errorf("delete %s %s/%s: %w", id.Kind, id.Namespace, id.Name, err)
	}
	c.logger.Debug("deleted", "kind", id.Kind, "namespace", id.Namespace, "name", id.Name, "propagation", *policy)
	return nil
}

// patchOwners rewrites latest's owner references through keep.
func (c *Controller) patchOwners(ctx context.Context, id identity, latest *metav1.PartialObjectMetadata,
	keep func(metav1.OwnerReference) (metav1.OwnerReference, bool)) error {
	var refs []metav1.OwnerReference
	for _, r := range latest.OwnerReferences {
		if nr, ok := keep(r); ok {
			refs = append(refs, nr)
		}
	}
	return c.patchMeta(ctx, id, map[string]any{"ownerReferences": refs, "resourceVersion": latest.ResourceVersion, "uid": latest.UID})
}

// removeFinalizer drops one finalizer from latest.
func (c *Controller) removeFinalizer(ctx context.Context, id identity, latest *metav1.PartialObjectMetadata, f string) error {
	var fs []string
	for _, x := range latest.Finalizers {
		if x != f {
			fs = append(fs, x)
		}
	}
	return c.patchMeta(ctx, id, map[string]any{"finalizers": fs, "resourceVersion": latest.ResourceVersion, "uid": latest.UID})
}

// patchMeta merge-patches metadata fields; the resourceVersion in it makes
// a concurrent change fail with a conflict (and the work is retried).
func (c *Controller) patchMeta(ctx context.Context, id identity, meta map[string]any) error {
	r, ok := c.resources.ForKind(id.groupKind())
	if !ok {
		return nil
	}
	body, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	_, err = c.set.Metadata().Resource(r.GVR).Namespace(id.Namespace).Patch(ctx, id.Name, types.MergePatchType, body, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("patch %s %s/%s: %w", id.Kind, id.Namespace, id.Name, err)
	}
	return nil
}

func containsUID(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func refString(r metav1.OwnerReference) string {
	return fmt.Sprintf("[%s/%s, namespace: , name: %s, uid: %s]", r.APIVersion, r.Kind, r.Name, r.UID)
}
