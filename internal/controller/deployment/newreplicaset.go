package deployment

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/controller/podcontrol"
)

// newReplicaSet brings an existing new ReplicaSet's annotations and
// minReadySeconds up to date, or creates it (when create is set) named
// "<deployment>-<pod-template-hash>" with the hash label on its selector
// and template, recording the revision on the deployment.
func (c *Controller) newReplicaSet(ctx context.Context, d *appsv1.Deployment, existing *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	newRevision := strconv.FormatInt(maxRevision(old)+1, 10)
	if existing != nil {
		return c.refreshNewReplicaSet(ctx, d, existing, newRevision)
	}
	if !create {
		return nil, nil
	}
	tmpl := d.Spec.Template.DeepCopy()
	hash := templateHash(tmpl, d.Status.CollisionCount)
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*podcontrol.ControllerRef(d, kind)},
			Labels:          tmpl.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *tmpl,
		},
	}
	n := newRSReplicas(d, append(append([]*appsv1.ReplicaSet(nil), old...), rs), rs)
	rs.Spec.Replicas = &n
	setNewReplicaSetAnnotations(d, rs, newRevision, false)

	created, alreadyExists, err := c.createReplicaSet(ctx, d, rs)
	if err != nil {
		return nil, err
	}
	if !alreadyExists && n > 0 {
		c.rec.Eventf(d, corev1.EventTypeNormal, ReasonScaling, "Scaled up replica set %s from 0 to %d", created.Name, n)
	}
	if err := c.setDeploymentRevision(ctx, d, newRevision); err != nil {
		return nil, err
	}
	if !alreadyExists && hasProgressDeadline(d) {
		setCondition(&d.Status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name)))
		if err := c.updateStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return created, nil
}

// createReplicaSet creates rs for d. An equal one already there (created
// by an earlier sync) is used; a different one with the same name is a
// hash collision: collisionCount goes up so that the next sync hashes anew.
func (c *Controller) createReplicaSet(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, bool, error) {
	created, err := c.set.ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		// The informer may not have seen a replica set an earlier sync
		// created: read it from the API server rather than mistake the
		// cache's lag for a hash collision.
		got, gerr := c.rss.ReplicaSets(d.Namespace).Get(rs.Name)
		if apierrors.IsNotFound(gerr) {
			got, gerr = c.set.ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		}
		if gerr != nil {
			return nil, true, fmt.Errorf("read existing replica set %s: %w", rs.Name, gerr)
		}
		if metav1.IsControlledBy(got, d) && equalIgnoreHash(&got.Spec.Template, &d.Spec.Template) {
			return got.DeepCopy(), true, nil
		}
		cc := int32(0)
		if d.Status.CollisionCount != nil {
			cc = *d.Status.CollisionCount
		}
		cc++
		d.Status.CollisionCount = &cc
		if uerr := c.updateStatus(ctx, d); uerr != nil {
			return nil, true, uerr
		}
		return nil, true, fmt.Errorf("replica set %s exists with another template: collision count now %d: %w", rs.Name, cc, err)
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg))
			_ = c.updateStatus(ctx, d)
		}
		c.rec.Event(d, corev1.EventTypeWarning, ReasonFailedRSCreate, msg)
		return nil, false, fmt.Errorf("create replica set %s: %w", rs.Name, err)
	}
	return created, false, nil
}

// refreshNewReplicaSet updates an existing new ReplicaSet's annotations
// and minReadySeconds and the deployment's revision.
func (c *Controller) refreshNewReplicaSet(ctx context.Context, d *appsv1.Deployment, existing *appsv1.ReplicaSet, newRevision string) (*appsv1.ReplicaSet, error) {
	rs := existing.DeepCopy()
	changed := setNewReplicaSetAnnotations(d, rs, newRevision, true)
	if rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		changed = true
	}
	if changed {
		got, err := c.set.ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("update replica set %s: %w", rs.Name, err)
		}
		// existing is this sync's copy in its list: keep it current so a
		// second look in the same sync does not write again.
		*existing = *got
		rs = existing
	}
	if err := c.setDeploymentRevision(ctx, d, rs.Annotations[RevisionAnnotation]); err != nil {
		return nil, err
	}
	if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
		setCondition(&d.Status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS,
			fmt.Sprintf("Found new replica set %q", rs.Name)))
		if err := c.updateStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// setNewReplicaSetAnnotations copies the deployment's annotations (but
// the controller's own) to rs, raises its revision to newRevision keeping
// the previous numbers in revision-history, and on creation records the
// desired and maximum sizes. It reports whether rs changed.
func setNewReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision string, exists bool) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range d.Annotations {
		if annotationsNotCopied[k] {
			continue
		}
		if cur, ok := rs.Annotations[k]; !ok || cur != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	oldRevision := rs.Annotations[RevisionAnnotation]
	oldN, err := strconv.ParseInt(oldRevision, 10, 64)
	if err != nil {
		if oldRevision != "" {
			return false
		}
		oldN = 0
	}
	newN, err := strconv.ParseInt(newRevision, 10, 64)
	if err != nil {
		return false
	}
	if oldN < newN {
		rs.Annotations[RevisionAnnotation] = newRevision
		changed = true
	}
	if oldRevision != "" && oldN < newN {
		rs.Annotations[RevisionHistoryAnnotation] = appendHistory(rs.Annotations[RevisionHistoryAnnotation], oldRevision)
	}
	if !exists && setReplicasAnnotations(rs, replicas(d), replicas(d)+maxSurge(d)) {
		changed = true
	}
	return changed
}

// appendHistory adds rev to the comma-separated history, dropping the
// oldest entries to stay within maxRevisionHistoryChars.
func appendHistory(history, rev string) string {
	if history == "" {
		return rev
	}
	old := strings.Split(history, ",")
	total := len(history) + len(rev) + 1
	start := 0
	for total > maxRevisionHistoryChars && start < len(old) {
		total -= len(old[start]) + 1
		start++
	}
	return strings.Join(append(old[start:], rev), ",")
}
