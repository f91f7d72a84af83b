package disruption

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"
)

// sync recomputes one budget's status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pdb, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	err = c.trySync(ctx, pdb)
	if err == nil || apierrors.IsConflict(err) {
		return err
	}
	// Fail safe: no disruption is allowed on a budget we cannot compute.
	next := pdb.DeepCopy()
	next.Status.DisruptionsAllowed = 0
	apimeta.SetStatusCondition(&next.Status.Conditions, metav1.Condition{Type: policyv1.DisruptionAllowedCondition,
		Status: metav1.ConditionFalse, Reason: policyv1.SyncFailedReason, Message: err.Error(), ObservedGeneration: next.Status.ObservedGeneration})
	if _, uerr := c.set.PodDisruptionBudgets(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); uerr != nil {
		return uerr
	}
	return err
}

func (c *Controller) trySync(ctx context.Context, pdb *policyv1.PodDisruptionBudget) error {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		c.rec.Eventf(pdb, corev1.EventTypeWarning, "NoPods", "Failed to get pods: %v", err)
		return err
	}
	pods, err := c.pods.Pods(pdb.Namespace).List(sel)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		c.rec.Eventf(pdb, corev1.EventTypeNormal, "NoPods", "No matching pods found")
	}
	expected, desired, unmanaged, err := c.expectedPodCount(pdb, pods)
	if err != nil {
		c.rec.Eventf(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: %v", err)
		return err
	}
	if len(unmanaged) > 0 {
		c.rec.Eventf(pdb, corev1.EventTypeWarning, "UnmanagedPods", "Pods selected by this PodDisruptionBudget (selector: %v) were found "+
			"to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. "+
			"To account for these pods please set \".spec.minAvailable\" "+
			"field of the PDB to an integer value.", sel)
	}
	now := c.clock.Now()
	disrupted, recheck := c.disruptedPods(pods, pdb, now)
	healthy := countHealthy(pods, disrupted, now)
	if err := c.updateStatus(ctx, pdb, healthy, desired, expected, disrupted); err != nil {
		return err
	}
	if !recheck.IsZero() {
		c.queue.AddAfter(pdb.Namespace+"/"+pdb.Name, recheck.Sub(now))
	}
	return nil
}

// expectedPodCount is upstream's: with an integer minAvailable the pods
// present; otherwise the summed scale of the pods' controllers.
func (c *Controller) expectedPodCount(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (expected, desired int32, unmanaged []string, err error) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		if expected, unmanaged, err = c.expectedScale(pods); err != nil {
			return
		}
		var maxUnavailable int
		if maxUnavailable, err = intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true); err != nil {
			return
		}
		desired = max(expected-int32(maxUnavailable), 0)
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		desired = pdb.Spec.MinAvailable.IntVal
		expected = int32(len(pods))
	case pdb.Spec.MinAvailable != nil:
		if expected, unmanaged, err = c.expectedScale(pods); err != nil {
			return
		}
		var minAvailable int
		if minAvailable, err = intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true); err != nil {
			return
		}
		desired = int32(minAvailable)
	}
	return
}

// expectedScale sums the replicas of the controllers of pods.
func (c *Controller) expectedScale(pods []*corev1.Pod) (int32, []string, error) {
	scale := map[types.UID]int32{}
	var unmanaged []string
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil {
			unmanaged = append(unmanaged, pod.Name)
			continue
		}
		if _, ok := scale[ref.UID]; ok {
			continue
		}
		uid, n, ok := c.controllerScale(ref, pod.Namespace)
		if !ok {
			return 0, nil, fmt.Errorf("found no controllers for pod %q", pod.Name)
		}
		scale[uid] = n
	}
	var sum int32
	for _, n := range scale {
		sum += n
	}
	return sum, unmanaged, nil
}

// controllerScale finds the replicas of a pod's controller (a ReplicaSet
// owned by a Deployment counts as the Deployment).
func (c *Controller) controllerScale(ref *metav1.OwnerReference, ns string) (types.UID, int32, bool) {
	replicas := func(p *int32) int32 {
		if p == nil {
			return 1
		}
		return *p
	}
	switch ref.Kind {
	case "ReplicationController":
		if rc, err := c.rcs.ReplicationControllers(ns).Get(ref.Name); err == nil && rc.UID == ref.UID {
			return rc.UID, replicas(rc.Spec.Replicas), true
		}
	case "StatefulSet":
		if ss, err := c.sss.StatefulSets(ns).Get(ref.Name); err == nil && ss.UID == ref.UID {
			return ss.UID, replicas(ss.Spec.Replicas), true
		}
	case "ReplicaSet":
		rs, err := c.rss.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, false
		}
		if dref := metav1.GetControllerOf(rs); dref != nil && dref.Kind == "Deployment" {
			if d, err := c.ds.Deployments(ns).Get(dref.Name); err == nil && d.UID == dref.UID {
				return d.UID, replicas(d.Spec.Replicas), true
			}
			return "", 0, false
		}
		return rs.UID, replicas(rs.Spec.Replicas), true
	}
	return "", 0, false
}

// disruptedPods keeps the entries of pods evicted less than DeletionTimeout
// ago and not yet being deleted, and says when the earliest runs out.
func (c *Controller) disruptedPods(pods []*corev1.Pod, pdb *policyv1.PodDisruptionBudget, now time.Time) (map[string]metav1.Time, time.Time) {
	out := map[string]metav1.Time{}
	var recheck time.Time
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		at, ok := pdb.Status.DisruptedPods[pod.Name]
		if !ok {
			continue
		}
		expires := at.Add(DeletionTimeout)
		if expires.Before(now) {
			c.rec.Eventf(pod, corev1.EventTypeWarning, "NotDeleted", "Pod was expected by PDB %s/%s to be deleted but it wasn't", pdb.Namespace, pdb.Namespace)
			continue
		}
		out[pod.Name] = at
		if recheck.IsZero() || expires.Before(recheck) {
			recheck = expires
		}
	}
	return out, recheck
}

func countHealthy(pods []*corev1.Pod, disrupted map[string]metav1.Time, now time.Time) int32 {
	var n int32
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if at, ok := disrupted[pod.Name]; ok && at.Add(DeletionTimeout).After(now) {
			continue
		}
		if ready(pod) {
			n++
		}
	}
	return n
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// updateStatus writes the status when it changed.
func (c *Controller) updateStatus(ctx context.Context, pdb *policyv1.PodDisruptionBudget, healthy, desired, expected int32, disrupted map[string]metav1.Time) error {
	allowed := healthy - desired
	if expected <= 0 || allowed < 0 {
		allowed = 0
	}
	next := pdb.DeepCopy()
	next.Status.CurrentHealthy, next.Status.DesiredHealthy = healthy, desired
	next.Status.ExpectedPods, next.Status.DisruptionsAllowed = expected, allowed
	next.Status.DisruptedPods = disrupted
	if len(disrupted) == 0 {
		next.Status.DisruptedPods = nil
	}
	next.Status.ObservedGeneration = pdb.Generation
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
		Reason: policyv1.InsufficientPodsReason, ObservedGeneration: pdb.Generation}
	if allowed > 0 {
		cond.Status, cond.Reason = metav1.ConditionTrue, policyv1.SufficientPodsReason
	}
	apimeta.SetStatusCondition(&next.Status.Conditions, cond)
	if apiequality.Semantic.DeepEqual(emptyDisrupted(pdb.Status), emptyDisrupted(next.Status)) {
		return nil
	}
	_, err := c.set.PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	return err
}

// emptyDisrupted treats an empty disruptedPods map as absent.
func emptyDisrupted(s policyv1.PodDisruptionBudgetStatus) policyv1.PodDisruptionBudgetStatus {
	if len(s.DisruptedPods) == 0 {
		s.DisruptedPods = nil
	}
	return s
}
