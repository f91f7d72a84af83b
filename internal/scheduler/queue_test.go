package scheduler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func newTestQueue() (*queue, *testingclock.FakeClock) {
	clk := testingclock.NewFakeClock(epoch)
	return newQueue(clk, time.Second, 10*time.Second, 5*time.Minute), clk
}

func popName(t *testing.T, q *queue) string {
	t.Helper()
	qp, err := q.pop()
	if err != nil {
		t.Fatal(err)
	}
	return qp.info.pod.Name
}

func TestQueuePriorityOrder(t *testing.T) {
	q, clk := newTestQueue()
	q.add(info(makePod("low", priority(1))))
	clk.Step(time.Millisecond)
	q.add(info(makePod("high", priority(100))))
	clk.Step(time.Millisecond)
	q.add(info(makePod("mid-old", priority(50))))
	clk.Step(time.Millisecond)
	q.add(info(makePod("mid-new", priority(50))))
	var got []string
	for range 4 {
		got = append(got, popName(t, q))
	}
	want := []string{"high", "mid-old", "mid-new", "low"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pop order %v, want %v", got, want)
		}
	}
}

func TestQueueBackoffTiming(t *testing.T) {
	q, clk := newTestQueue()
	p := makePod("p")
	q.add(info(p))
	q.add(info(makePod("other")))
	for attempt, wantBackoff := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		// Pop p (after "other" the first time), fail it with an error.
		for popName(t, q) != "p" {
			continue
		}
		q.errorAgain(p.UID)
		start := clk.Now()
		// Until its window passes it stays in back-off.
		clk.SetTime(start.Add(wantBackoff - time.Millisecond))
		q.flushBackoff()
		if _, backoff, _ := q.counts(); backoff != 1 {
			t.Fatalf("attempt %d: pod left back-off before %s", attempt+1, wantBackoff)
		}
		clk.SetTime(start.Add(wantBackoff).Truncate(time.Second).Add(time.Second))
		q.flushBackoff()
		if _, backoff, _ := q.counts(); backoff != 0 {
			t.Fatalf("attempt %d: pod still backing off after %s", attempt+1, wantBackoff)
		}
	}
}

func TestQueueUnschedulableAndEvents(t *testing.T) {
	q, clk := newTestQueue()
	p := makePod("p", requests("cpu", "2"))
	q.add(info(p))
	popName(t, q)
	q.unschedulableAgain(p.UID, pluginsOf(pluginNodeResourcesFit))
	if _, _, u := q.counts(); u != 1 {
		t.Fatal("pod not unschedulable")
	}
	// A node too small for the pod does not help; a big one does.
	q.onEvent(clusterEvent{kind: eventNodeAdd, node: makeNode("small", 1000, 1<<30)})
	if _, _, u := q.counts(); u != 1 {
		t.Fatal("a node the pod cannot fit moved it")
	}
	// An unrelated event (a volume change) does not help NodeResourcesFit.
	q.onEvent(clusterEvent{kind: eventVolumeChange})
	if _, _, u := q.counts(); u != 1 {
		t.Fatal("a volume event moved a pod rejected for resources")
	}
	clk.Step(3 * time.Second) // past its 1 s back-off
	q.onEvent(clusterEvent{kind: eventNodeAdd, node: makeNode("big", 4000, 1<<30)})
	if a, _, u := q.counts(); a != 1 || u != 0 {
		t.Fatalf("node add: active %d unschedulable %d, want 1 and 0", a, u)
	}
	// Deleting a bound pod frees room: requeued (into back-off while backing off).
	popName(t, q)
	q.unschedulableAgain(p.UID, pluginsOf(pluginNodeResourcesFit))
	q.onEvent(clusterEvent{kind: eventAssignedPodDelete, pod: makePod("gone", onNode("big"))})
	if _, b, u := q.counts(); b != 1 || u != 0 {
		t.Fatalf("pod delete: backoff %d unschedulable %d, want 1 and 0", b, u)
	}
}

func TestQueueEventDuringAttempt(t *testing.T) {
	q, _ := newTestQueue()
	p := makePod("p")
	q.add(info(p))
	popName(t, q)
	// While p is being scheduled, a node is tainted off for it... then
	// untainted: the attempt's verdict may be stale, so p is retried.
	q.onEvent(clusterEvent{kind: eventNodeUpdate, oldNode: makeNode("n", 1000, 1<<30, withTaint("x", "", corev1.TaintEffectNoSchedule)),
		node: makeNode("n", 1000, 1<<30)})
	q.unschedulableAgain(p.UID, pluginsOf(pluginTaintToleration))
	if _, b, u := q.counts(); b != 1 || u != 0 {
		t.Fatalf("backoff %d unschedulable %d: the in-flight event was lost", b, u)
	}
}

func TestQueuePopsFromBackoffWhenIdle(t *testing.T) {
	q, _ := newTestQueue()
	p := makePod("p")
	q.add(info(p))
	popName(t, q)
	q.errorAgain(p.UID) // error back-off is never popped early
	q.add(info(makePod("u")))
	popName(t, q)
	q.unschedulableAgain("uid-u", 0)
	q.onEvent(clusterEvent{kind: eventVolumeChange}) // u (no plugins) goes to back-off
	if got := popName(t, q); got != "u" {
		t.Fatalf("popped %s, want u from the back-off heap", got)
	}
}

func TestQueueUnschedulableTimeout(t *testing.T) {
	q, clk := newTestQueue()
	p := makePod("p")
	q.add(info(p))
	popName(t, q)
	q.unschedulableAgain(p.UID, pluginsOf(pluginNodeAffinity))
	clk.Step(4 * time.Minute)
	q.flushUnschedulable()
	if _, _, u := q.counts(); u != 1 {
		t.Fatal("retried before 5 minutes")
	}
	clk.Step(2 * time.Minute)
	q.flushUnschedulable()
	if a, _, u := q.counts(); a != 1 || u != 0 {
		t.Fatal("not retried after 5 minutes")
	}
}

func TestQueueUpdateAndRemove(t *testing.T) {
	q, _ := newTestQueue()
	p := makePod("p", nodeSelector("disk", "ssd"))
	q.add(info(p))
	popName(t, q)
	q.unschedulableAgain(p.UID, pluginsOf(pluginNodeAffinity))
	// A status-only update leaves it; a spec change retries it.
	q.update(info(p), false)
	if _, _, u := q.counts(); u != 1 {
		t.Fatal("status update moved the pod")
	}
	q.update(info(makePod("p")), true)
	if _, _, u := q.counts(); u != 0 {
		t.Fatal("spec update did not move the pod")
	}
	q.remove(p.UID)
	if a, b, u := q.counts(); a+b+u != 0 || q.has(p.UID) {
		t.Fatal("remove left the pod")
	}
}

func TestQueueRunFlushesOnTicks(t *testing.T) {
	q, clk := newTestQueue()
	done := make(chan struct{})
	ctx, cancel := contextWithCancel()
	go func() { q.run(ctx); close(done) }()
	p := makePod("p")
	q.add(info(p))
	popName(t, q)
	q.errorAgain(p.UID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		clk.Step(500 * time.Millisecond)
		if a, _, _ := q.counts(); a == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flusher never moved the pod")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if _, err := q.pop(); err != errQueueClosed {
		t.Fatalf("pop after close: %v", err)
	}
}
