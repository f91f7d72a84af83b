package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// sync evicts pod key now, schedules its eviction, or cancels it.
func (e *TaintEviction) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := e.podsL.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		e.cancel(key, false)
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		e.cancel(key, false)
		return nil
	}
	node, err := e.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		e.cancel(key, false)
		return nil
	}
	if err != nil {
		return err
	}
	now := e.clock.Now()
	at, evict := e.evictionTime(key, noExecuteTaints(node), pod.Spec.Tolerations, now)
	if !evict {
		e.cancel(key, true)
		return nil
	}
	if now.Before(at) {
		e.queue.AddAfter(key, at.Sub(now))
		return nil
	}
	return e.evict(ctx, key, pod)
}

// evictionTime is when pod should go given the node's NoExecute taints:
// false when it tolerates them all for ever. Each tolerated taint allows
// the pod its toleration's seconds from when the taint was added (or, for
// a taint without timeAdded, from when this controller first saw it).
func (e *TaintEviction) evictionTime(key string, taints []corev1.Taint, tolerations []corev1.Toleration, now time.Time) (time.Time, bool) {
	if len(taints) == 0 {
		return time.Time{}, false
	}
	e.mu.Lock()
	seen, known := e.scheduled[key]
	e.mu.Unlock()
	if !known {
		seen = now
	}
	var at time.Time
	limited := false
	for i := range taints {
		t := &taints[i]
		secs, tolerated, forever := toleration(tolerations, t)
		if !tolerated {
			return now, true
		}
		if forever {
			continue
		}
		start := seen
		if t.TimeAdded != nil {
			start = t.TimeAdded.Time
		}
		deadline := start.Add(time.Duration(secs) * time.Second)
		if !limited || deadline.Before(at) {
			at, limited = deadline, true
		}
	}
	if limited && !known {
		e.mu.Lock()
		e.scheduled[key] = seen
		e.mu.Unlock()
	}
	return at, limited
}

// toleration finds how long the tolerations allow taint t: tolerated at
// all, for ever, or for the shortest tolerationSeconds of those matching.
func toleration(tolerations []corev1.Toleration, t *corev1.Taint) (secs int64, tolerated, forever bool) {
	for i := range tolerations {
		tol := &tolerations[i]
		if !tol.ToleratesTaint(logr.Discard(), t, false) {
			continue
		}
		if tol.TolerationSeconds == nil {
			forever = true
			tolerated = true
			continue
		}
		s := max(*tol.TolerationSeconds, 0)
		if !tolerated || forever || s < secs {
			secs = s
		}
		tolerated, forever = true, false
	}
	return secs, tolerated, forever
}

// cancel forgets a pod's scheduled eviction; with event, tells the pod's
// owner why it stays (upstream's "Cancelling deletion").
func (e *TaintEviction) cancel(key string, event bool) {
	e.mu.Lock()
	_, was := e.scheduled[key]
	delete(e.scheduled, key)
	e.mu.Unlock()
	if was && event {
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		e.rec.Eventf(&corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: name},
			corev1.EventTypeNormal, "TaintManagerEviction", "Cancelling deletion of Pod %s", key)
	}
}

// evict marks the pod with the DisruptionTarget condition and deletes it.
func (e *TaintEviction) evict(ctx context.Context, key string, pod *corev1.Pod) error {
	e.rec.Eventf(&corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s", key)
	p := pod.DeepCopy()
	if setCondition(&p.Status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "DeletionByTaintManager", Message: "Taint manager: deleting due to NoExecute taint",
		LastTransitionTime: metav1.NewTime(e.clock.Now())}) {
		if _, err := e.set.Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("mark pod %s for deletion: %w", key, err)
		}
	}
	uid := pod.UID
	err := e.set.Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", key, err)
	}
	e.mu.Lock()
	delete(e.scheduled, key)
	e.mu.Unlock()
	return nil
}

// setCondition sets c in status (a change of status moves its transition
// time); it reports whether anything changed.
func setCondition(status *corev1.PodStatus, c corev1.PodCondition) bool {
	for i := range status.Conditions {
		cur := &status.Conditions[i]
		if cur.Type != c.Type {
			continue
		}
		if cur.Status == c.Status && cur.Reason == c.Reason && cur.Message == c.Message {
			return false
		}
		if cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
		*cur = c
		return true
	}
	status.Conditions = append(status.Conditions, c)
	return true
}
