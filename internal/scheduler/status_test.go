package scheduler

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestFailedSchedulingMessage checks upstream's exact message, event and
// condition for a pod that fits nowhere for mixed reasons.
func TestFailedSchedulingMessage(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("cp", 4000, 8<<30, withTaint("node-role.kubernetes.io/control-plane", "", corev1.TaintEffectNoSchedule)),
		makeNode("w1", 1000, 8<<30),
		makeNode("w2", 1000, 8<<30),
	}
	s, w, rec, _ := testScheduler(t, nodes, makePod("big", requests("cpu", "2")))
	cycle(t, s)
	const want = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. " +
		"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	select {
	case ev := <-rec.Events:
		if ev != "Warning FailedScheduling "+want {
			t.Fatalf("event:\n got %q\nwant %q", ev, "Warning FailedScheduling "+want)
		}
	default:
		t.Fatal("no FailedScheduling event")
	}
	cond, _ := w.lastStatus(t, "big")
	if cond.Type != corev1.PodScheduled || cond.Status != corev1.ConditionFalse || cond.Reason != "Unschedulable" || cond.Message != want {
		t.Fatalf("condition %+v", cond)
	}
	if _, _, unsched := s.queue.counts(); unsched != 1 {
		t.Fatalf("pod not parked as unschedulable")
	}
}

func TestFitErrorMessages(t *testing.T) {
	st := func(c code, r ...string) *status { return newStatus(c, pluginNone, r...) }
	tests := []struct {
		name string
		fe   fitError
		want string
	}{
		{"histogram sorted as strings", fitError{numAllNodes: 12, diag: diagnosis{nodeStatus: map[string]*status{
			"a": st(codeUnschedulable, "Insufficient cpu", "Insufficient memory"), "b": st(codeUnschedulable, "Insufficient cpu"),
			"c": st(codeUnresolvable, "node(s) were unschedulable"),
		}, absent: st(codeUnresolvable, "node(s) didn't satisfy plugin(s) [NodeAffinity]")}},
			"0/12 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable, 2 Insufficient cpu, 9 node(s) didn't satisfy plugin(s) [NodeAffinity]."},
		{"pre-filter message replaces the histogram", fitError{numAllNodes: 2, diag: diagnosis{nodeStatus: map[string]*status{},
			absent: st(codeUnresolvable, `persistentvolumeclaim "data" not found`), preFilterMsg: `persistentvolumeclaim "data" not found`,
			postFilterMsg: "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."}},
			`0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.`},
		{"preemption policy Never", fitError{numAllNodes: 1, diag: diagnosis{nodeStatus: map[string]*status{"a": st(codeUnschedulable, "Insufficient cpu")},
			postFilterMsg: "preemption: " + msgPreemptNever}},
			"0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fe.Error(); got != tt.want {
				t.Fatalf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNoNodesMessage(t *testing.T) {
	s, w, rec, _ := testScheduler(t, nil, makePod("p"))
	cycle(t, s)
	if ev := <-rec.Events; ev != "Warning FailedScheduling no nodes available to schedule pods" {
		t.Fatalf("event %q", ev)
	}
	if cond, _ := w.lastStatus(t, "p"); cond.Reason != "Unschedulable" || cond.Message != "no nodes available to schedule pods" {
		t.Fatalf("condition %+v", cond)
	}
	// A node appearing brings the pod back.
	s.onNodeAdd(makeNode("n", 1000, 1<<30))
	if _, backoff, unsched := s.queue.counts(); backoff != 1 || unsched != 0 {
		t.Fatal("node add did not move the pod to back-off")
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("x", 2000)
	if got := truncate(long); len(got) != 1024 || !strings.HasSuffix(got, " ...") {
		t.Fatalf("truncate: len %d", len(got))
	}
}
