package scheduler

import (
	"context"
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// noteLengthLimit is the longest Event message upstream keeps.
const noteLengthLimit = 1024

// handleFailure reports a pod that could not be scheduled as upstream does
// — a FailedScheduling Event and the PodScheduled=False condition with the
// same message (plus the nominated node after preemption) — evicts
// preemption victims, and puts the pod back in the queue.
func (s *Scheduler) handleFailure(ctx context.Context, qp *queuedPod, err error, p *preemption) {
	pi := qp.info
	reason := failureReason(err)
	msg := err.Error()
	var plugins pluginSet
	if fe, ok := asFitError(err); ok {
		plugins = fe.diag.plugins
		s.logger.Debug("unable to schedule pod; no fit; waiting", "namespace", pi.pod.Namespace, "pod", pi.pod.Name, "err", msg)
	} else if reason == corev1.PodReasonSchedulerError {
		s.logger.Warn("error scheduling pod; retrying", "namespace", pi.pod.Namespace, "pod", pi.pod.Name, "err", msg)
	}
	if reason == corev1.PodReasonUnschedulable {
		s.queue.unschedulableAgain(pi.uid, plugins)
	} else {
		s.queue.errorAgain(pi.uid)
	}
	if p != nil && p.node != "" {
		s.evict(ctx, pi, p)
	}
	if !s.queue.has(pi.uid) {
		return // deleted or bound meanwhile: nothing to report
	}
	if s.recorder != nil {
		s.recorder.Event(pi.pod, corev1.EventTypeWarning, "FailedScheduling", truncate(msg))
	}
	nominated, setNominated := "", false
	if p != nil && (p.node != "" || p.clearOwn) {
		nominated, setNominated = p.node, true
	}
	patch := statusPatch(pi.pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: reason, Message: msg}, nominated, setNominated, s.cfg.Clock.Now())
	if patch == nil {
		return
	}
	if err := s.api.patchPodStatus(ctx, pi.pod.Namespace, pi.pod.Name, patch); err != nil && ctx.Err() == nil {
		s.logger.Warn("cannot update pod condition", "namespace", pi.pod.Namespace, "pod", pi.pod.Name, "err", err)
	}
}

func truncate(msg string) string {
	if len(msg) <= noteLengthLimit {
		return msg
	}
	return msg[:noteLengthLimit-4] + " ..."
}

// statusPatch builds the strategic merge patch that sets cond (keeping its
// transition time when only the message changed) and, when asked, the
// nominated node; nil when the pod already says exactly that.
func statusPatch(pod *corev1.Pod, cond corev1.PodCondition, nominated string, setNominated bool, now time.Time) []byte {
	changed := true
	cond.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
	for _, c := range pod.Status.Conditions {
		if c.Type != cond.Type {
			continue
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
			cond.LastProbeTime = c.LastProbeTime
			changed = c.Reason != cond.Reason || c.Message != cond.Message
		}
	}
	setNominated = setNominated && pod.Status.NominatedNodeName != nominated
	if !changed && !setNominated {
		return nil
	}
	status := map[string]any{}
	if changed {
		status["conditions"] = []corev1.PodCondition{cond}
	}
	if setNominated {
		if nominated == "" {
			status["nominatedNodeName"] = nil
		} else {
			status["nominatedNodeName"] = nominated
		}
	}
	b, _ := json.Marshal(map[string]any{"status": status}) // plain maps and API types always marshal
	return b
}
