package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"kserver.dev/kserver/internal/store"
)

// Harness tells the suite how to run a backend.
type Harness struct {
	// Open opens the backend on the data in dir, creating it when dir is
	// empty. The suite closes what it opens.
	Open func(t *testing.T, dir string) (store.Backend, error)
	// DataFile is where Open(dir) keeps its data, so that a Snapshot
	// written there can be opened again.
	DataFile func(dir string) string
	// WatchQueue is the undelivered-event limit Open configures, after
	// which a watcher that does not read must be dropped.
	WatchQueue int
}

// Run runs every conformance test against the backend.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"RevisionsIncreaseByOne", testRevisions},
		{"CreateGetErrors", testCreateGet},
		{"CASConflicts", testCAS},
		{"ConcurrentCAS", testConcurrentCAS},
		{"ListPrefixAndCount", testListPrefix},
		{"ListAtRevision", testListAtRevision},
		{"ListPagination", testPagination},
		{"WatchFromAnyRevision", testWatchFrom},
		{"WatchLiveAndPrefix", testWatchLive},
		{"WatchStops", testWatchStops},
		{"Compaction", testCompaction},
		{"RestartRecovery", testRestart},
		{"TTL", testTTL},
		{"TTLAcrossRestart", testTTLRestart},
		{"ConcurrentWriters", testConcurrentWriters},
		{"SlowWatcherDropped", testSlowWatcher},
		{"Snapshot", testSnapshot},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &suite{h: h, dir: t.TempDir(), ctx: context.Background()}
			s.b = s.open(t)
			t.Cleanup(func() { s.b.Close() })
			tc.fn(t, s)
		})
	}
}

// suite is one test's backend and reference model.
type suite struct {
	h   Harness
	dir string
	ctx context.Context
	b   store.Backend
	m   model
}

func (s *suite) open(t *testing.T) store.Backend {
	t.Helper()
	b, err := s.h.Open(t, s.dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return b
}

// reopen closes the backend and opens the same data again.
func (s *suite) reopen(t *testing.T) {
	t.Helper()
	if err := s.b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s.b = s.open(t)
}

func (s *suite) create(t *testing.T, key, value string) store.KeyValue {
	t.Helper()
	kv, err := s.b.Create(s.ctx, key, []byte(value), store.WriteOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", key, err)
	}
	s.m.record(t, store.Event{Type: store.EventCreate, KV: kv})
	return kv
}

func (s *suite) update(t *testing.T, key, value string) store.KeyValue {
	t.Helper()
	prev := s.current(t, key)
	kv, err := s.b.Update(s.ctx, key, []byte(value), prev.ModRevision, store.WriteOptions{})
	if err != nil {
		t.Fatalf("update %s: %v", key, err)
	}
	s.m.record(t, store.Event{Type: store.EventUpdate, KV: kv, Prev: &prev})
	return kv
}

func (s *suite) delete(t *testing.T, key string) store.KeyValue {
	t.Helper()
	prev := s.current(t, key)
	kv, err := s.b.Delete(s.ctx, key, prev.ModRevision)
	if err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
	s.m.record(t, store.Event{Type: store.EventDelete, KV: kv, Prev: &prev})
	return kv
}

func (s *suite) current(t *testing.T, key string) store.KeyValue {
	t.Helper()
	kv, ok := s.m.at(int64(len(s.m.events)))[key]
	if !ok {
		t.Fatalf("model has no %s", key)
	}
	return kv
}

// churn writes a mix of creates, updates and deletes under /registry/.
func (s *suite) churn(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		key := fmt.Sprintf("/registry/pods/ns%d/p%d", i%3, i%7)
		_, exists := s.m.at(int64(len(s.m.events)))[key]
		switch {
		case !exists:
			s.create(t, key, fmt.Sprintf("v%d", i))
		case i%5 == 0:
			s.delete(t, key)
		default:
			s.update(t, key, fmt.Sprintf("v%d", i))
		}
	}
}

func sameKV(a, b store.KeyValue) bool {
	return a.Key == b.Key && bytes.Equal(a.Value, b.Value) && a.CreateRevision == b.CreateRevision && a.ModRevision == b.ModRevision
}

func checkKVs(t *testing.T, what string, got, want []store.KeyValue) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d keys %v, want %d %v", what, len(got), keys(got), len(want), keys(want))
	}
	for i := range got {
		if !sameKV(got[i], want[i]) {
			t.Fatalf("%s: item %d is %s, want %s", what, i, fmtKV(got[i]), fmtKV(want[i]))
		}
	}
}

func keys(kvs []store.KeyValue) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key
	}
	return out
}

func fmtKV(kv store.KeyValue) string {
	return fmt.Sprintf("%s=%q (create %d, mod %d)", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision)
}

func checkEvent(t *testing.T, what string, got, want store.Event) {
	t.Helper()
	if got.Type != want.Type || !sameKV(got.KV, want.KV) {
		t.Fatalf("%s: got event %d %s, want %d %s", what, got.Type, fmtKV(got.KV), want.Type, fmtKV(want.KV))
	}
	if (got.Prev == nil) != (want.Prev == nil) || got.Prev != nil && !sameKV(*got.Prev, *want.Prev) {
		t.Fatalf("%s: event at %d has prev %v, want %v", what, got.KV.ModRevision, got.Prev, want.Prev)
	}
}

// next waits for one event; fails after a deadline.
func next(t *testing.T, w store.Watcher) store.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch closed early: %v", w.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return store.Event{}
}

// expectEvents reads len(want) events and compares them in order.
func expectEvents(t *testing.T, what string, w store.Watcher, want []store.Event) {
	t.Helper()
	for i, ev := range want {
		checkEvent(t, fmt.Sprintf("%s, event %d", what, i), next(t, w), ev)
	}
}

// quiet checks that no event is pending right now (after a short grace,
// since delivery is asynchronous).
func quiet(t *testing.T, w store.Watcher) {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if ok {
			t.Fatalf("unexpected event at %d for %s", ev.KV.ModRevision, ev.KV.Key)
		}
	case <-time.After(50 * time.Millisecond):
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}
