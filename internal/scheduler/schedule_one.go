package scheduler

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// scheduleOne runs one scheduling cycle for qp: find a node (or run
// preemption and report the failure), assume the pod there and hand it to
// a binder.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queuedPod) {
	if job, ok := s.scheduleCycle(ctx, qp); ok {
		s.binds <- job
	}
}

// scheduleCycle is scheduleOne up to the hand-off: it returns the binding
// job when the pod was assumed on a node.
func (s *Scheduler) scheduleCycle(ctx context.Context, qp *queuedPod) (bindJob, bool) {
	pi := qp.info
	s.cache.mu.Lock()
	if s.cache.isAssumed(pi.uid) {
		s.cache.mu.Unlock()
		s.queue.done(pi.uid)
		return bindJob{}, false
	}
	node, cs, err := s.algo.schedule(pi)
	if err != nil {
		var p *preemption
		if fe, ok := asFitError(err); ok {
			p = s.postFilter(cs, pi, fe)
		}
		s.cache.mu.Unlock()
		s.handleFailure(ctx, qp, err, p)
		return bindJob{}, false
	}
	if !s.queue.has(pi.uid) {
		// Deleted, or bound by someone else, during the cycle.
		s.cache.mu.Unlock()
		return bindJob{}, false
	}
	assumed := pi.withNode(node)
	s.cache.assume(assumed)
	var volumes map[string]*corev1.PersistentVolume
	if cs.volumes != nil {
		volumes, _ = cs.volumes.matches(s.cache.nodes[node].node)
	}
	s.cache.mu.Unlock()
	s.logger.Debug("assumed pod on node", "namespace", pi.pod.Namespace, "pod", pi.pod.Name, "node", node)
	return bindJob{qp: qp, pod: assumed, node: node, volumes: volumes, claims: delayedClaims(cs)}, true
}

// postFilter runs preemption for a pod that fits nowhere and records the
// outcome on the cache (the nomination) and in the fit error's message.
func (s *Scheduler) postFilter(cs *cycleState, pi *podInfo, fe *fitError) *preemption {
	var pdbs []*policyv1.PodDisruptionBudget
	if s.listers != nil {
		pdbs, _ = s.listers.pdbs.List(labels.Everything())
	}
	p := s.algo.preempt(cs, pi, &fe.diag, s.priorities.preemptionPolicy(pi.pod), pdbs, s.cfg.Clock.Now())
	fe.diag.postFilterMsg = p.msg
	switch {
	case p.node != "":
		s.cache.nominate(pi, p.node)
		for _, np := range p.clearNominated {
			s.cache.clearNomination(np.uid)
		}
	case p.clearOwn:
		s.cache.clearNomination(pi.uid)
	}
	return &p
}

// failureReason is the PodScheduled condition's reason for err.
func failureReason(err error) string {
	var fe *fitError
	if errors.As(err, &fe) || errors.Is(err, errNoNodesAvailable) {
		return corev1.PodReasonUnschedulable
	}
	return corev1.PodReasonSchedulerError
}

func delayedClaims(cs *cycleState) []*corev1.PersistentVolumeClaim {
	if cs == nil || cs.volumes == nil {
		return nil
	}
	return cs.volumes.delayed
}
