package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/controller/podcontrol"
)

// sync reconciles the ReplicaSet key: claim its pods, create or delete the
// difference to spec.replicas (when the cache has caught up with what the
// last sync did), then write status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, owner, err := c.kind.Get(ns, name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// Validation refuses such selectors; nothing to do until it changes.
		return nil
	}
	needsSync := c.exp.Satisfied(key)

	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	claimer := &podcontrol.Claimer{
		Owner: rs, Kind: c.kind.Kind(), Selector: sel, Patch: podcontrol.PodPatcher(c.set),
		CanAdopt: podcontrol.RecheckOwner(rs, func(ctx context.Context) (metav1.Object, error) {
			return c.kind.GetFresh(ctx, ns, name)
		}),
	}
	owned, err := podcontrol.Claim(ctx, claimer, all)
	if err != nil {
		return err
	}
	var active, terminating []*corev1.Pod
	for _, p := range owned {
		if podcontrol.IsActive(p) {
			active = append(active, p)
		} else if podcontrol.IsTerminating(p) {
			terminating = append(terminating, p)
		}
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, key, rs, owner, active)
	}
	status := c.status(rs, active, terminating, manageErr)
	if err := c.writeStatus(ctx, rs, status); err != nil {
		return err
	}
	if manageErr != nil {
		return manageErr
	}
	// Requeue to see pods become available after minReadySeconds.
	if m := rs.Spec.MinReadySeconds; m > 0 && status.ReadyReplicas == desired(rs) && status.AvailableReplicas != desired(rs) {
		c.queue.AddAfter(key, time.Duration(m)*time.Second)
	}
	return nil
}

func desired(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// manage creates or deletes pods so that len(active) moves to the desired
// count, at most BurstReplicas at a time.
func (c *Controller) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, owner podcontrol.Owner, active []*corev1.Pod) error {
	diff := len(active) - int(desired(rs))
	switch {
	case diff < 0:
		n := min(-diff, BurstReplicas)
		c.exp.ExpectCreations(key, n)
		ref := podcontrol.ControllerRef(rs, c.kind.Kind())
		var failed atomic.Int32
		ok, err := podcontrol.SlowStart(n, func() error {
			_, err := c.control.Create(ctx, owner, podcontrol.PodFromTemplate(&rs.Spec.Template, rs, ref))
			if err != nil {
				failed.Add(1)
				c.exp.CreationObserved(key)
			}
			return err
		})
		// Creations never attempted after a failed batch will not be observed.
		for i := ok + int(failed.Load()); i < n; i++ {
			c.exp.CreationObserved(key)
		}
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	case diff > 0:
		n := min(diff, BurstReplicas)
		victims := append([]*corev1.Pod(nil), active...)
		podcontrol.SortForDeletion(victims)
		victims = victims[:n]
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = podcontrol.Key(p)
		}
		c.exp.ExpectDeletions(key, keys)
		return c.deletePods(ctx, key, owner, victims)
	}
	return nil
}

func (c *Controller) deletePods(ctx context.Context, key string, owner podcontrol.Owner, pods []*corev1.Pod) error {
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.control.Delete(ctx, owner, p.Namespace, p.Name); err != nil {
				c.exp.DeletionObserved(key, podcontrol.Key(p))
				if !apierrors.IsNotFound(err) {
					errs[i] = err
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// status computes the new status from the owned pods.
func (c *Controller) status(rs *appsv1.ReplicaSet, active, terminating []*corev1.Pod, manageErr error) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	now := c.clock.Now()
	tmplLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var full, ready, avail int32
	for _, p := range active {
		if tmplLabels.Matches(labels.Set(p.Labels)) {
			full++
		}
		if podcontrol.IsReady(p) {
			ready++
			if podcontrol.IsAvailable(p, rs.Spec.MinReadySeconds, now) {
				avail++
			}
		}
	}
	st.Replicas = int32(len(active))
	st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = full, ready, avail
	if c.kind.TracksTerminating() {
		t := int32(len(terminating))
		st.TerminatingReplicas = &t
	}
	st.ObservedGeneration = rs.Generation

	failure := failureCondition(st.Conditions)
	switch {
	case manageErr != nil && failure == nil:
		reason := "FailedCreate"
		if len(active) > int(desired(rs)) {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		var kept []appsv1.ReplicaSetCondition
		for _, cond := range st.Conditions {
			if cond.Type != appsv1.ReplicaSetReplicaFailure {
				kept = append(kept, cond)
			}
		}
		st.Conditions = kept
	}
	return st
}

func failureCondition(conds []appsv1.ReplicaSetCondition) *appsv1.ReplicaSetCondition {
	for i := range conds {
		if conds[i].Type == appsv1.ReplicaSetReplicaFailure {
			return &conds[i]
		}
	}
	return nil
}

// writeStatus updates the status when it changed, retrying once on a
// conflict with a fresh read as upstream.
func (c *Controller) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) error {
	if statusEqual(rs.Status, st) {
		return nil
	}
	if err := c.kind.UpdateStatus(ctx, rs, st); err != nil {
		return fmt.Errorf("update status of %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return nil
}

func statusEqual(a, b appsv1.ReplicaSetStatus) bool {
	ta, tb := int32(0), int32(0)
	if a.TerminatingReplicas != nil {
		ta = *a.TerminatingReplicas
	}
	if b.TerminatingReplicas != nil {
		tb = *b.TerminatingReplicas
	}
	return a.Replicas == b.Replicas && a.FullyLabeledReplicas == b.FullyLabeledReplicas &&
		a.ReadyReplicas == b.ReadyReplicas && a.AvailableReplicas == b.AvailableReplicas &&
		a.ObservedGeneration == b.ObservedGeneration && ta == tb && (a.TerminatingReplicas == nil) == (b.TerminatingReplicas == nil) &&
		len(a.Conditions) == len(b.Conditions)
}
