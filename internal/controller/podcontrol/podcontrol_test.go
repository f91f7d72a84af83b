package podcontrol

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSlowStartBatches(t *testing.T) {
	var calls atomic.Int32
	ok, err := SlowStart(10, func() error { calls.Add(1); return nil })
	if ok != 10 || err != nil || calls.Load() != 10 {
		t.Fatalf("all succeed: ok %d err %v calls %d", ok, err, calls.Load())
	}
	// Failing from the start: only the first batch (one call) is made.
	calls.Store(0)
	ok, err = SlowStart(10, func() error { calls.Add(1); return errors.New("quota") })
	if ok != 0 || err == nil || calls.Load() != 1 {
		t.Fatalf("all fail: ok %d err %v calls %d", ok, err, calls.Load())
	}
	// Failing after 3 calls: batches 1, 2, 4 are tried, then it stops.
	calls.Store(0)
	ok, err = SlowStart(20, func() error {
		if calls.Add(1) > 3 {
			return errors.New("full")
		}
		return nil
	})
	if ok != 3 || err == nil || calls.Load() != 7 {
		t.Fatalf("fail later: ok %d err %v calls %d", ok, err, calls.Load())
	}
}

func TestExpectations(t *testing.T) {
	e := NewExpectations()
	if !e.Satisfied("a") {
		t.Fatal("no expectations must be satisfied")
	}
	e.ExpectCreations("a", 2)
	e.CreationObserved("a")
	if e.Satisfied("a") {
		t.Fatal("one creation still pending")
	}
	e.CreationObserved("a")
	if !e.Satisfied("a") {
		t.Fatal("all creations seen")
	}
	e.ExpectDeletions("a", []string{"ns/p1", "ns/p2"})
	e.DeletionObserved("a", "ns/p1")
	e.DeletionObserved("a", "ns/p1") // seen twice counts once
	if e.Satisfied("a") {
		t.Fatal("p2 deletion still pending")
	}
	e.DeletionObserved("a", "ns/p2")
	if !e.Satisfied("a") {
		t.Fatal("all deletions seen")
	}
	now := time.Now()
	e.now = func() time.Time { return now }
	e.ExpectCreations("b", 1)
	e.now = func() time.Time { return now.Add(ExpectationsTimeout + time.Second) }
	if !e.Satisfied("b") {
		t.Fatal("expired expectations must not block")
	}
}

func pod(name, node string, phase corev1.PodPhase, ready bool, readySince time.Time, restarts int32, created time.Time) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
	if ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(readySince)}}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: restarts}}
	return p
}

func TestSortForDeletion(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pods := []*corev1.Pod{
		pod("ready-long", "n", corev1.PodRunning, true, t0, 0, t0),
		pod("ready-short", "n", corev1.PodRunning, true, t0.Add(time.Hour), 0, t0),
		pod("running-not-ready", "n", corev1.PodRunning, false, t0, 0, t0),
		pod("pending", "n", corev1.PodPending, false, t0, 0, t0),
		pod("unscheduled", "", corev1.PodPending, false, t0, 0, t0),
		pod("restarts", "n", corev1.PodRunning, true, t0, 5, t0),
	}
	SortForDeletion(pods)
	var got []string
	for _, p := range pods {
		got = append(got, p.Name)
	}
	want := "unscheduled pending running-not-ready ready-short restarts ready-long"
	if s := join(got); s != want {
		t.Fatalf("order %s, want %s", s, want)
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

func TestIsAvailable(t *testing.T) {
	t0 := time.Now()
	p := pod("p", "n", corev1.PodRunning, true, t0, 0, t0)
	if !IsAvailable(p, 0, t0) || IsAvailable(p, 10, t0.Add(5*time.Second)) || !IsAvailable(p, 10, t0.Add(10*time.Second)) {
		t.Fatal("availability after minReadySeconds")
	}
}

func TestGenerateNamePrefix(t *testing.T) {
	if GenerateNamePrefix("web") != "web-" {
		t.Fatal("short name")
	}
	long := ""
	for i := 0; i < 250; i++ {
		long += "a"
	}
	if GenerateNamePrefix(long) != long {
		t.Fatal("a name too long for the dash keeps no dash")
	}
}
