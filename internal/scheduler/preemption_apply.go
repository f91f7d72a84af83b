package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// evict carries out a preemption in the background, as upstream's
// asynchronous preemption does: each victim is marked with the
// DisruptionTarget condition, deleted and told why with a Preempted Event,
// and lower-priority pods nominated to the node lose their nomination. The
// preemptor is retried when the victims' deletions arrive.
func (s *Scheduler) evict(ctx context.Context, preemptor *podInfo, p *preemption) {
	victims, node, clear := p.victims, p.node, p.clearNominated
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		for _, v := range victims {
			s.evictOne(ctx, preemptor, v, node)
		}
		for _, np := range clear {
			patch := statusPatch(np.pod, corev1.PodCondition{}, "", true, s.cfg.Clock.Now())
			if patch == nil {
				continue
			}
			if err := s.api.patchPodStatus(ctx, np.pod.Namespace, np.pod.Name, patch); err != nil && ctx.Err() == nil {
				s.logger.Warn("cannot clear nominated node", "namespace", np.pod.Namespace, "pod", np.pod.Name, "err", err)
			}
		}
	}()
}

func (s *Scheduler) evictOne(ctx context.Context, preemptor, victim *podInfo, node string) {
	pod := victim.pod
	cond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason:  corev1.PodReasonPreemptionByScheduler,
		Message: fmt.Sprintf("%s: preempting to accommodate a higher priority pod", s.cfg.SchedulerName)}
	if patch := statusPatch(pod, cond, "", false, s.cfg.Clock.Now()); patch != nil {
		if err := s.api.patchPodStatus(ctx, pod.Namespace, pod.Name, patch); err != nil {
			s.logger.Warn("cannot mark preemption victim", "namespace", pod.Namespace, "pod", pod.Name, "err", err)
			return
		}
	}
	if err := s.api.deletePod(ctx, pod.Namespace, pod.Name, pod.UID); err != nil {
		s.logger.Warn("cannot delete preemption victim", "namespace", pod.Namespace, "pod", pod.Name, "err", err)
		return
	}
	s.logger.Info("preempted pod", "namespace", pod.Namespace, "pod", pod.Name, "node", node,
		"preemptor", preemptor.pod.Namespace+"/"+preemptor.pod.Name)
	if s.recorder != nil {
		s.recorder.Eventf(pod, corev1.EventTypeNormal, "Preempted", "Preempted by pod %s on node %s", preemptor.uid, node)
	}
}
