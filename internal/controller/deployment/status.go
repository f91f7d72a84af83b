package deployment

import (
	"context"
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event and condition reasons, as upstream.
const (
	ReasonScaling        = "ScalingReplicaSet"
	ReasonNewRSCreated   = "NewReplicaSetCreated"
	ReasonFoundNewRS     = "FoundNewReplicaSet"
	ReasonRSUpdated      = "ReplicaSetUpdated"
	ReasonNewRSAvailable = "NewReplicaSetAvailable"
	ReasonTimedOut       = "ProgressDeadlineExceeded"
	ReasonPaused         = "DeploymentPaused"
	ReasonResumed        = "DeploymentResumed"
	ReasonFailedRSCreate = "ReplicaSetCreateError"
	ReasonMinAvailable   = "MinimumReplicasAvailable"
	ReasonMinUnavailable = "MinimumReplicasUnavailable"
)

func (c *Controller) condition(t appsv1.DeploymentConditionType, s corev1.ConditionStatus, reason, msg string) appsv1.DeploymentCondition {
	now := metav1.NewTime(c.clock.Now())
	return appsv1.DeploymentCondition{Type: t, Status: s, LastUpdateTime: now, LastTransitionTime: now, Reason: reason, Message: msg}
}

func getCondition(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition replaces the condition of cond's type (moving it last),
// keeping the transition time when the status did not change; an equal
// status and reason leaves everything as it is.
func setCondition(st *appsv1.DeploymentStatus, cond appsv1.DeploymentCondition) {
	cur := getCondition(*st, cond.Type)
	if cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason {
		return
	}
	if cur != nil && cur.Status == cond.Status {
		cond.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(st, cond.Type)
	st.Conditions = append(st.Conditions, cond)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var kept []appsv1.DeploymentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			kept = append(kept, c)
		}
	}
	st.Conditions = kept
}

func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// calculateStatus sums the ReplicaSets' status into the deployment's and
// sets the Available condition.
func (c *Controller) calculateStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) appsv1.DeploymentStatus {
	avail := sumStatus(all, available)
	total := sumStatus(all, actual)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            total,
		UpdatedReplicas:     sumStatus([]*appsv1.ReplicaSet{newRS}, actual),
		ReadyReplicas:       sumStatus(all, ready),
		AvailableReplicas:   avail,
		UnavailableReplicas: max(0, total-avail),
		CollisionCount:      d.Status.CollisionCount,
		TerminatingReplicas: terminating(all),
	}
	st.Conditions = append(st.Conditions, d.Status.Conditions...)
	if avail >= replicas(d)-maxUnavailable(d) {
		setCondition(&st, c.condition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinAvailable, "Deployment has minimum availability."))
	} else {
		setCondition(&st, c.condition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinUnavailable, "Deployment does not have minimum availability."))
	}
	return st
}

// terminating sums the ReplicaSets' terminatingReplicas, or nil while one
// has not reported it.
func terminating(all []*appsv1.ReplicaSet) *int32 {
	var n int32
	for _, rs := range all {
		if rs == nil {
			continue
		}
		if rs.Status.TerminatingReplicas == nil {
			return nil
		}
		n += *rs.Status.TerminatingReplicas
	}
	return &n
}

// syncDeploymentStatus writes the calculated status when it changed.
func (c *Controller) syncDeploymentStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := c.calculateStatus(all, newRS, d)
	if equality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.updateStatus(ctx, d)
}

func complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	n := replicas(d)
	return st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n && st.ObservedGeneration >= d.Generation
}

func progressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas || st.AvailableReplicas > old.AvailableReplicas
}

func (c *Controller) timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	cond := getCondition(*st, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || cond == nil || cond.Reason == ReasonNewRSAvailable {
		return false
	}
	if cond.Reason == ReasonTimedOut {
		return true
	}
	deadline := cond.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	return deadline.Before(c.clock.Now())
}

// syncRolloutStatus writes status with the Progressing condition
// (progressed, progressing, or past its deadline) and ReplicaFailure taken
// from the ReplicaSets; when nothing changed it requeues a deployment that
// may still time out.
func (c *Controller) syncRolloutStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := c.calculateStatus(all, newRS, d)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	if hasProgressDeadline(d) && !done {
		switch {
		case complete(d, &st):
			msg := fmt.Sprintf("Deployment %q has successfully progressed.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name)
			}
			setCondition(&st, c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSAvailable, msg))
		case progressing(d, &st):
			msg := fmt.Sprintf("Deployment %q is progressing.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name)
			}
			cond := c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, msg)
			if cur != nil {
				if cur.Status == corev1.ConditionTrue {
					cond.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&st, appsv1.DeploymentProgressing)
			}
			setCondition(&st, cond)
		case c.timedOut(d, &st):
			msg := fmt.Sprintf("Deployment %q has timed out progressing.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name)
			}
			setCondition(&st, c.condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut, msg))
		}
	}
	if f := replicaFailure(all, newRS); f != nil {
		setCondition(&st, appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: f.Status,
			LastUpdateTime: f.LastTransitionTime, LastTransitionTime: f.LastTransitionTime, Reason: f.Reason, Message: f.Message})
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	if equality.Semantic.DeepEqual(d.Status, st) {
		c.requeueStuck(d, st)
		return nil
	}
	d.Status = st
	return c.updateStatus(ctx, d)
}

// replicaFailure is the ReplicaFailure condition of the new ReplicaSet,
// else of the first old one that has it.
func replicaFailure(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) *appsv1.ReplicaSetCondition {
	find := func(rs *appsv1.ReplicaSet) *appsv1.ReplicaSetCondition {
		if rs == nil {
			return nil
		}
		for i := range rs.Status.Conditions {
			if rs.Status.Conditions[i].Type == appsv1.ReplicaSetReplicaFailure {
				return &rs.Status.Conditions[i]
			}
		}
		return nil
	}
	if f := find(newRS); f != nil {
		return f
	}
	for _, rs := range all {
		if f := find(rs); f != nil {
			return f
		}
	}
	return nil
}

// requeueStuck checks the deployment again when its progress deadline
// would pass.
func (c *Controller) requeueStuck(d *appsv1.Deployment, st appsv1.DeploymentStatus) {
	cur := getCondition(st, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || cur == nil || complete(d, &st) || cur.Reason == ReasonTimedOut {
		return
	}
	key := d.Namespace + "/" + d.Name
	after := cur.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(c.clock.Now())
	if after < time.Second {
		c.queue.AddRateLimited(key)
		return
	}
	c.queue.AddAfter(key, after+time.Second)
}
