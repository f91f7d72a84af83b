package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func names(pods []*podInfo) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.pod.Name)
	}
	return out
}

// preemptOn runs a failing cycle for p and then preemption.
func preemptOn(t *testing.T, a *algorithm, p *corev1.Pod, pdbs ...*policyv1.PodDisruptionBudget) preemption {
	t.Helper()
	pi := info(p)
	_, cs, err := a.schedule(pi)
	fe, ok := asFitError(err)
	if !ok {
		t.Fatalf("want a fit error, got %v", err)
	}
	return a.preempt(cs, pi, &fe.diag, corev1.PreemptLowerPriority, pdbs, epoch)
}

func TestPreemptionVictims(t *testing.T) {
	node := makeNode("n", 1500, 8<<30)
	existing := []*corev1.Pod{
		makePod("p1", onNode("n"), priority(1), requests("cpu", "500m"), podLabels("app", "a")),
		makePod("p2", onNode("n"), priority(2), requests("cpu", "500m"), podLabels("app", "b")),
		makePod("p10", onNode("n"), priority(10), requests("cpu", "500m"), podLabels("app", "c")),
	}
	preemptor := makePod("vip", priority(100), requests("cpu", "500m"))
	t.Run("lowest priority goes first", func(t *testing.T) {
		p := preemptOn(t, testAlgorithm([]*corev1.Node{node}, existing...), preemptor)
		if p.node != "n" || !reflect.DeepEqual(names(p.victims), []string{"p1"}) || p.msg != "" {
			t.Fatalf("node %q victims %v msg %q", p.node, names(p.victims), p.msg)
		}
	})
	t.Run("a pod protected by a budget is spared if another fits", func(t *testing.T) {
		pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"},
			Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0}}
		p := preemptOn(t, testAlgorithm([]*corev1.Node{node}, existing...), preemptor, pdb)
		if !reflect.DeepEqual(names(p.victims), []string{"p2"}) {
			t.Fatalf("victims %v, want [p2]", names(p.victims))
		}
	})
	t.Run("several victims when one is not enough", func(t *testing.T) {
		p := preemptOn(t, testAlgorithm([]*corev1.Node{node}, existing...), makePod("vip", priority(100), requests("cpu", "1")))
		if !reflect.DeepEqual(names(p.victims), []string{"p2", "p1"}) {
			t.Fatalf("victims %v, want [p2 p1] (most important first)", names(p.victims))
		}
	})
	t.Run("equal priority pods are not victims", func(t *testing.T) {
		p := preemptOn(t, testAlgorithm([]*corev1.Node{node}, existing...), makePod("peer", priority(1), requests("cpu", "600m")))
		want := "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
		if p.node != "" || p.msg != want {
			t.Fatalf("node %q msg %q", p.node, p.msg)
		}
	})
}

func TestPreemptionPicksNode(t *testing.T) {
	nodes := []*corev1.Node{makeNode("n1", 1000, 8<<30), makeNode("n2", 1000, 8<<30), makeNode("n3", 1000, 8<<30)}
	existing := []*corev1.Pod{
		makePod("n1-mid", onNode("n1"), priority(50), requests("cpu", "1")),
		makePod("n2-low", onNode("n2"), priority(5), requests("cpu", "1")),
		makePod("n3-a", onNode("n3"), priority(5), requests("cpu", "500m")),
		makePod("n3-b", onNode("n3"), priority(5), requests("cpu", "500m")),
	}
	// n2 and n3 both have highest victim priority 5; n2 has the smaller sum.
	p := preemptOn(t, testAlgorithm(nodes, existing...), makePod("vip", priority(100), requests("cpu", "1")))
	if p.node != "n2" || !reflect.DeepEqual(names(p.victims), []string{"n2-low"}) {
		t.Fatalf("picked %s with %v, want n2 with [n2-low]", p.node, names(p.victims))
	}
}

func TestPreemptionThroughTheCycle(t *testing.T) {
	node := makeNode("n", 1000, 8<<30)
	victim := makePod("low", onNode("n"), priority(1), requests("cpu", "800m"))
	s, w, rec, _ := testScheduler(t, []*corev1.Node{node}, victim, makePod("vip", priority(1000), requests("cpu", "500m")))
	cycle(t, s)
	s.async.Wait()
	if ev := <-rec.Events; ev != "Warning FailedScheduling 0/1 nodes are available: 1 Insufficient cpu." {
		t.Fatalf("event %q", ev)
	}
	if ev := <-rec.Events; ev != "Normal Preempted Preempted by pod uid-vip on node n" {
		t.Fatalf("victim event %q", ev)
	}
	cond, nominated := w.lastStatus(t, "vip")
	if nominated == nil || *nominated != "n" || cond.Message != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Fatalf("preemptor status: nominated %v, condition %+v", nominated, cond)
	}
	vc, _ := w.lastStatus(t, "low")
	if vc.Type != corev1.DisruptionTarget || vc.Reason != "PreemptionByScheduler" || vc.Message != "default-scheduler: preempting to accommodate a higher priority pod" {
		t.Fatalf("victim condition %+v", vc)
	}
	if !reflect.DeepEqual(w.deleted, []string{"low"}) {
		t.Fatalf("deleted %v", w.deleted)
	}
	// Other pods now leave room for the nominated one.
	s.cache.mu.Lock()
	n := s.cache.nominatedFor("n", info(makePod("other", priority(1))))
	s.cache.mu.Unlock()
	if len(n) != 1 {
		t.Fatal("nomination not recorded")
	}
	// When the victim is gone the preemptor is retried and binds to n.
	s.onPodDelete(victim)
	job, ok := s.scheduleCycle(t.Context(), mustPop(t, s))
	if !ok || job.node != "n" {
		t.Fatalf("retry after eviction: %v %v", ok, job.node)
	}
}

func TestPreemptionPolicyNever(t *testing.T) {
	a := testAlgorithm([]*corev1.Node{makeNode("n", 1000, 8<<30)}, makePod("low", onNode("n"), priority(1), requests("cpu", "1")))
	pi := info(makePod("polite", priority(100), requests("cpu", "1")))
	_, cs, err := a.schedule(pi)
	fe, _ := asFitError(err)
	p := a.preempt(cs, pi, &fe.diag, corev1.PreemptNever, nil, epoch)
	fe.diag.postFilterMsg = p.msg
	if want := "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."; fe.Error() != want {
		t.Fatalf("got %q", fe.Error())
	}
}
