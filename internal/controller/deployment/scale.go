package deployment

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scaleReplicaSet sets rs's size (and the replicas annotations) and
// records ScalingReplicaSet when the size changed. rs is updated in place.
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment) (bool, error) {
	oldSize := rsReplicas(rs)
	sizeChanged := oldSize != size
	cp := rs.DeepCopy()
	annChanged := setReplicasAnnotations(cp, replicas(d), replicas(d)+maxSurge(d))
	if !sizeChanged && !annChanged {
		return false, nil
	}
	cp.Spec.Replicas = &size
	got, err := c.set.ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, fmt.Errorf("scale replica set %s: %w", rs.Name, err)
	}
	*rs = *got
	if sizeChanged {
		op := "up"
		if size < oldSize {
			op = "down"
		}
		c.rec.Eventf(d, corev1.EventTypeNormal, ReasonScaling, "Scaled %s replica set %s from %d to %d", op, rs.Name, oldSize, size)
	}
	return sizeChanged, nil
}

// scaleTo is scaleReplicaSet skipped when the size is already right.
func (c *Controller) scaleTo(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment) (bool, error) {
	if rsReplicas(rs) == size {
		return false, nil
	}
	return c.scaleReplicaSet(ctx, rs, size, d)
}

// activeOrLatest is the only active ReplicaSet, or the newest when none
// is active; nil when several are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	sorted := append([]*appsv1.ReplicaSet(nil), old...)
	byCreation(sorted)
	for i, j := 0, len(sorted)-1; i < j; i, j = i+1, j-1 {
		sorted[i], sorted[j] = sorted[j], sorted[i]
	}
	act := active(append(sorted, newRS))
	switch len(act) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[0]
	case 1:
		return act[0]
	}
	return nil
}

// saturated reports whether rs alone is fully sized and available.
func saturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && rsReplicas(rs) == replicas(d) && want == replicas(d) && rs.Status.AvailableReplicas == replicas(d)
}

// scale applies a change of spec.replicas: the single active ReplicaSet
// takes it all; during a rolling update it is shared in proportion to the
// ReplicaSets' sizes (largest first), the rounding left-over going to the
// first.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	if rs := activeOrLatest(newRS, old); rs != nil {
		_, err := c.scaleTo(ctx, rs, replicas(d), d)
		return err
	}
	if saturated(d, newRS) {
		for _, rs := range active(old) {
			if _, err := c.scaleTo(ctx, rs, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRolling(d) {
		return nil
	}
	all := active(append(append([]*appsv1.ReplicaSet(nil), old...), newRS))
	allowed := int32(0)
	if replicas(d) > 0 {
		allowed = replicas(d) + maxSurge(d)
	}
	toAdd := allowed - sumReplicas(all)
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if rsReplicas(a) != rsReplicas(b) {
			return rsReplicas(a) > rsReplicas(b)
		}
		if toAdd > 0 {
			return b.CreationTimestamp.Before(&a.CreationTimestamp) // newer first
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp) // older first
	})
	sizes := map[string]int32{}
	var added int32
	if toAdd != 0 {
		for _, rs := range all {
			p := proportion(d, rs, toAdd, added)
			sizes[rs.Name] = rsReplicas(rs) + p
			added += p
		}
	}
	for i, rs := range all {
		size, ok := sizes[rs.Name]
		if !ok {
			size = rsReplicas(rs)
		}
		if i == 0 && toAdd != 0 {
			size = max(0, size+toAdd-added)
		}
		if _, err := c.scaleReplicaSet(ctx, rs, size, d); err != nil {
			return err
		}
	}
	return nil
}

// cleanup deletes the oldest fully scaled-down ReplicaSets beyond
// revisionHistoryLimit.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var dead []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs != nil && rs.Status.Replicas == 0 && rsReplicas(rs) == 0 && rs.Generation <= rs.Status.ObservedGeneration && rs.DeletionTimestamp == nil {
			dead = append(dead, rs)
		}
	}
	diff := len(dead) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	sort.SliceStable(dead, func(i, j int) bool {
		ri, rj := revisionOf(dead[i]), revisionOf(dead[j])
		if ri != rj {
			return ri < rj
		}
		return dead[i].CreationTimestamp.Before(&dead[j].CreationTimestamp)
	})
	for _, rs := range dead[:diff] {
		err := c.set.ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old replica set %s: %w", rs.Name, err)
		}
	}
	return nil
}
