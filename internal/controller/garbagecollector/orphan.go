package garbagecollector

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// attemptToOrphan carries out an orphan deletion: each dependent loses its
// reference to the owner, then the owner loses its orphan finalizer.
func (c *Controller) attemptToOrphan(ctx context.Context, key string) error {
	n := c.graph.get(types.UID(key))
	if n == nil {
		return nil
	}
	c.graph.mu.RLock()
	id := n.id
	c.graph.mu.RUnlock()
	owner, err := c.getObject(ctx, id)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if owner.UID != id.UID || owner.DeletionTimestamp == nil || !hasFinalizer(owner.Finalizers, metav1.FinalizerOrphanDependents) {
		return nil
	}
	for _, d := range c.graph.dependentsOf(n) {
		c.graph.mu.RLock()
		did := d.id
		c.graph.mu.RUnlock()
		latest, err := c.getObject(ctx, did)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if latest.UID != did.UID || !containsUID(latest.OwnerReferences, id.UID) {
			continue
		}
		err = c.patchOwners(ctx, did, latest, func(r metav1.OwnerReference) (metav1.OwnerReference, bool) {
			return r, r.UID != id.UID
		})
		if err != nil {
			return err
		}
	}
	return c.removeFinalizer(ctx, id, owner, metav1.FinalizerOrphanDependents)
}
