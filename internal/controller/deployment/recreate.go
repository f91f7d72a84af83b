package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// rolloutRecreate scales every old ReplicaSet to zero, waits until none of
// their pods runs, then creates and scales up the new one.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, sel labels.Selector) error {
	newRS, old, err := c.allReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)

	scaledDown := false
	for _, rs := range active(old) {
		ok, err := c.scaleTo(ctx, rs, 0, d)
		if err != nil {
			return err
		}
		scaledDown = scaledDown || ok
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	running, err := c.oldPodsRunning(newRS, old, sel, d.Namespace)
	if err != nil {
		return err
	}
	if running {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if newRS == nil {
		if newRS, old, err = c.allReplicaSets(ctx, d, rsList, true); err != nil {
			return err
		}
		all = append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	}
	if _, err := c.scaleTo(ctx, newRS, replicas(d), d); err != nil {
		return err
	}
	if st := c.calculateStatus(all, newRS, d); complete(d, &st) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// oldPodsRunning reports whether an old ReplicaSet still has replicas or
// an unfinished pod.
func (c *Controller) oldPodsRunning(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, sel labels.Selector, ns string) (bool, error) {
	if sumStatus(old, actual) > 0 {
		return true, nil
	}
	pods, err := c.pods.Pods(ns).List(sel)
	if err != nil {
		return false, err
	}
	oldUIDs := map[string]bool{}
	for _, rs := range old {
		oldUIDs[string(rs.UID)] = true
	}
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil || !oldUIDs[string(ref.UID)] || (newRS != nil && ref.UID == newRS.UID) {
			continue
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return true, nil
		}
	}
	return false, nil
}
