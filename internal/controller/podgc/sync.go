package podgc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// sync runs one pass over every pod.
func (c *Controller) sync(ctx context.Context, _ string) error {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(c.gcTerminated(ctx, pods))
	add(c.gcOutOfService(ctx, pods))
	add(c.gcOrphaned(ctx, pods))
	add(c.gcUnscheduledTerminating(ctx, pods))
	return errors.Join(errs...)
}

// gcTerminated deletes the oldest finished pods beyond the threshold.
func (c *Controller) gcTerminated(ctx context.Context, pods []*corev1.Pod) error {
	if c.cfg.TerminatedPodThreshold < 0 {
		return nil
	}
	var done []*corev1.Pod
	for _, p := range pods {
		if terminated(p) {
			done = append(done, p)
		}
	}
	extra := len(done) - c.cfg.TerminatedPodThreshold
	if extra <= 0 {
		return nil
	}
	sort.Slice(done, func(i, j int) bool { return done[i].CreationTimestamp.Before(&done[j].CreationTimestamp) })
	var errs []error
	for _, p := range done[:extra] {
		if err := c.forceDelete(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// gcOutOfService deletes terminating pods on not-ready nodes an admin
// marked out of service.
func (c *Controller) gcOutOfService(ctx context.Context, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		if p.DeletionTimestamp == nil || p.Spec.NodeName == "" {
			continue
		}
		n, err := c.nodes.Get(p.Spec.NodeName)
		if err != nil || ready(n) || !outOfService(n) {
			continue
		}
		if err := c.markFailed(ctx, p, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.forceDelete(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// gcOrphaned deletes pods whose node has been missing for the quarantine
// time and that the API confirms is gone.
func (c *Controller) gcOrphaned(ctx context.Context, pods []*corev1.Pod) error {
	now := c.clock.Now()
	gone := map[string]bool{}
	var errs []error
	for _, p := range pods {
		node := p.Spec.NodeName
		if node == "" {
			continue
		}
		if _, err := c.nodes.Get(node); err == nil {
			c.forgetMissing(node)
			continue
		}
		confirmed, known := gone[node]
		if !known {
			confirmed = c.nodeGone(ctx, node, now)
			gone[node] = confirmed
		}
		if !confirmed {
			continue
		}
		cond := &corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "DeletionByPodGC", Message: "PodGC: node no longer exists", LastTransitionTime: metav1.NewTime(now)}
		if err := c.markFailed(ctx, p, cond); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.forceDelete(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// nodeGone reports whether node has been missing from the cache for the
// quarantine time and the API says it does not exist; until then it
// schedules another pass.
func (c *Controller) nodeGone(ctx context.Context, node string, now time.Time) bool {
	c.mu.Lock()
	since, ok := c.missing[node]
	if !ok {
		since = now
		c.missing[node] = now
	}
	c.mu.Unlock()
	if wait := since.Add(c.cfg.Quarantine).Sub(now); wait > 0 {
		c.queue.AddAfter(passKey, wait)
		return false
	}
	_, err := c.set.Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err == nil {
		c.forgetMissing(node) // the cache was behind
	}
	return false
}

func (c *Controller) forgetMissing(node string) {
	c.mu.Lock()
	delete(c.missing, node)
	c.mu.Unlock()
}

// gcUnscheduledTerminating deletes terminating pods that never got a node
// (nothing else would ever finish them).
func (c *Controller) gcUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			if err := c.forceDelete(ctx, p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// markFailed sets an unfinished pod's phase to Failed (nobody else will:
// its node is gone or out of service), with cond when given.
func (c *Controller) markFailed(ctx context.Context, p *corev1.Pod, cond *corev1.PodCondition) error {
	if terminated(p) {
		return nil
	}
	next := p.DeepCopy()
	next.Status.Phase = corev1.PodFailed
	if cond != nil {
		replaced := false
		for i := range next.Status.Conditions {
			if next.Status.Conditions[i].Type == cond.Type {
				next.Status.Conditions[i] = *cond
				replaced = true
			}
		}
		if !replaced {
			next.Status.Conditions = append(next.Status.Conditions, *cond)
		}
	}
	_, err := c.set.Pods(p.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("mark pod %s/%s failed: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// forceDelete deletes a pod with no grace period.
func (c *Controller) forceDelete(ctx context.Context, p *corev1.Pod) error {
	uid := p.UID
	err := c.set.Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0),
		Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	c.logger.Info("deleted pod", "namespace", p.Namespace, "pod", p.Name, "node", p.Spec.NodeName)
	return nil
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
