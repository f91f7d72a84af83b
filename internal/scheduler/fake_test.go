package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
)

// fakeWriter records what the scheduler writes.
type fakeWriter struct {
	mu       sync.Mutex
	bindings []*corev1.Binding
	patches  map[string][]json.RawMessage // pod name → status patches
	deleted  []string
	bindErr  error
}

func (f *fakeWriter) bind(_ context.Context, b *corev1.Binding) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bindErr != nil {
		return f.bindErr
	}
	f.bindings = append(f.bindings, b)
	return nil
}

func (f *fakeWriter) patchPodStatus(_ context.Context, _, name string, patch []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.patches == nil {
		f.patches = map[string][]json.RawMessage{}
	}
	f.patches[name] = append(f.patches[name], patch)
	return nil
}

func (f *fakeWriter) deletePod(_ context.Context, _, name string, _ types.UID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, name)
	return nil
}

func (f *fakeWriter) updateVolume(context.Context, *corev1.PersistentVolume) error     { return nil }
func (f *fakeWriter) updateClaim(context.Context, *corev1.PersistentVolumeClaim) error { return nil }

// lastStatus decodes the last status patch sent for pod.
func (f *fakeWriter) lastStatus(t *testing.T, pod string) (cond corev1.PodCondition, nominated *string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := f.patches[pod]
	if len(ps) == 0 {
		t.Fatalf("no status patch for %s", pod)
	}
	var body struct {
		Status struct {
			Conditions        []corev1.PodCondition `json:"conditions"`
			NominatedNodeName *string               `json:"nominatedNodeName"`
		} `json:"status"`
	}
	if err := json.Unmarshal(ps[len(ps)-1], &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Status.Conditions) > 0 {
		cond = body.Status.Conditions[0]
	}
	return cond, body.Status.NominatedNodeName
}

// testScheduler is a scheduler over fixtures with a fake writer and a fake
// recorder; nothing runs until the test drives it.
func testScheduler(t *testing.T, nodes []*corev1.Node, pods ...*corev1.Pod) (*Scheduler, *fakeWriter, *record.FakeRecorder, *testingclock.FakeClock) {
	t.Helper()
	clk := testingclock.NewFakeClock(epoch)
	cfg := DefaultConfig()
	cfg.Clock, cfg.Seed = clk, 1
	w := &fakeWriter{}
	s := newScheduler(cfg, w, nil, discardLogger())
	rec := record.NewFakeRecorder(100)
	s.recorder = rec
	for _, n := range nodes {
		s.onNodeAdd(n)
	}
	for _, p := range pods {
		s.onPodAdd(p)
	}
	return s, w, rec, clk
}

// cycle pops the next pod and runs its scheduling cycle; a binding is
// written at once.
func cycle(t *testing.T, s *Scheduler) {
	t.Helper()
	qp, err := s.queue.pop()
	if err != nil {
		t.Fatal(err)
	}
	s.scheduleCycle(context.Background(), qp)
}

func mustPop(t *testing.T, s *Scheduler) *queuedPod {
	t.Helper()
	s.queue.flushBackoff()
	qp, err := s.queue.pop()
	if err != nil {
		t.Fatal(err)
	}
	return qp
}

var errConflictForTest = errors.New(`Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "m"`)

func mustPopAfterBackoff(t *testing.T, s *Scheduler) *queuedPod {
	t.Helper()
	s.cfg.Clock.(*testingclock.FakeClock).Step(20 * time.Second)
	return mustPop(t, s)
}
