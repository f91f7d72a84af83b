package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodEventsSortPods(t *testing.T) {
	s, _, _, _ := testScheduler(t, []*corev1.Node{makeNode("n", 4000, 8<<30)})
	gated := makePod("gated", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "wait"}} })
	s.onPodAdd(gated)
	other := makePod("other", func(p *corev1.Pod) { p.Spec.SchedulerName = "my-scheduler" })
	s.onPodAdd(other)
	if s.queue.has(gated.UID) || s.queue.has(other.UID) {
		t.Fatal("a gated pod or another scheduler's pod was queued")
	}
	ungated := gated.DeepCopy()
	ungated.Spec.SchedulingGates = nil
	s.onPodUpdate(gated, ungated)
	if !s.queue.has(gated.UID) {
		t.Fatal("removing the gates did not queue the pod")
	}
	// Bound (by anyone): leaves the queue, enters the cache.
	bound := ungated.DeepCopy()
	bound.Spec.NodeName = "n"
	s.onPodUpdate(ungated, bound)
	if s.queue.has(gated.UID) || len(s.cache.nodes["n"].pods) != 1 {
		t.Fatal("bound pod not moved from queue to cache")
	}
	// Finished pods free their node.
	done := bound.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	s.onPodUpdate(bound, done)
	if len(s.cache.nodes["n"].pods) != 0 {
		t.Fatal("a finished pod still holds its node")
	}
	// A pod being deleted is not scheduled.
	dying := makePod("dying", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: epoch} })
	s.onPodAdd(dying)
	if s.queue.has(dying.UID) {
		t.Fatal("a terminating pod was queued")
	}
}

func TestNodeHeartbeatsDoNotRequeue(t *testing.T) {
	node := makeNode("n", 1000, 8<<30, withLabels("disk", "hdd"))
	p := makePod("p", nodeSelector("disk", "ssd"))
	s, _, _, _ := testScheduler(t, []*corev1.Node{node}, p)
	cycle(t, s)
	if _, _, u := s.queue.counts(); u != 1 {
		t.Fatal("pod not unschedulable")
	}
	beat := node.DeepCopy()
	beat.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Time{Time: epoch}}}
	s.onNodeUpdate(node, beat)
	if _, _, u := s.queue.counts(); u != 1 {
		t.Fatal("a heartbeat requeued the pod")
	}
	relabeled := beat.DeepCopy()
	relabeled.Labels["disk"] = "ssd"
	s.onNodeUpdate(beat, relabeled)
	if _, _, u := s.queue.counts(); u != 0 {
		t.Fatal("the label the pod needs did not requeue it")
	}
	job, ok := s.scheduleCycle(t.Context(), mustPop(t, s))
	if !ok || job.node != "n" {
		t.Fatal("pod not scheduled after the node was relabelled")
	}
}

func TestNominationFromStatus(t *testing.T) {
	s, _, _, _ := testScheduler(t, []*corev1.Node{makeNode("n", 1000, 8<<30)})
	p := makePod("nominee", priority(100), requests("cpu", "800m"), func(p *corev1.Pod) { p.Status.NominatedNodeName = "n" })
	s.onPodAdd(p)
	// A lower-priority pod must leave room for the nominated one.
	low := makePod("low", priority(1), requests("cpu", "500m"))
	s.cache.mu.Lock()
	_, _, err := s.algo.schedule(info(low))
	s.cache.mu.Unlock()
	fe, ok := asFitError(err)
	if !ok || fe.Error() != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Fatalf("low-priority pod: %v", err)
	}
}

func TestBindFailureRetries(t *testing.T) {
	s, w, rec, _ := testScheduler(t, []*corev1.Node{makeNode("n", 1000, 8<<30)}, makePod("p", requests("cpu", "500m")))
	w.bindErr = errConflictForTest
	qp := mustPop(t, s)
	job, ok := s.scheduleCycle(t.Context(), qp)
	if !ok {
		t.Fatal("not assumed")
	}
	s.bind(t.Context(), job)
	if len(s.cache.nodes["n"].pods) != 0 {
		t.Fatal("a failed binding left the pod assumed")
	}
	if _, b, _ := s.queue.counts(); b != 1 {
		t.Fatal("a failed binding was not retried after back-off")
	}
	if ev := <-rec.Events; ev != "Warning FailedScheduling "+errConflictForTest.Error() {
		t.Fatalf("event %q", ev)
	}
	if cond, _ := w.lastStatus(t, "p"); cond.Reason != corev1.PodReasonSchedulerError {
		t.Fatalf("condition %+v", cond)
	}
	w.bindErr = nil
	job, _ = s.scheduleCycle(t.Context(), mustPopAfterBackoff(t, s))
	s.bind(t.Context(), job)
	if len(w.bindings) != 1 || w.bindings[0].Target.Name != "n" || w.bindings[0].UID != "uid-p" {
		t.Fatalf("bindings %+v", w.bindings)
	}
	if ev := <-rec.Events; ev != "Normal Scheduled Successfully assigned default/p to n" {
		t.Fatalf("event %q", ev)
	}
}
