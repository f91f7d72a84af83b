package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"kserver.dev/kserver/internal/store"
)

func testWatchFrom(t *testing.T, s *suite) {
	s.churn(t, 80)
	cur := int64(len(s.m.events))
	for _, from := range []int64{0, 1, cur / 3, cur / 2, cur - 1, cur} {
		for _, prefix := range []string{"/registry/", "/registry/pods/ns1/"} {
			ctx, cancel := context.WithCancel(s.ctx)
			w, err := s.b.Watch(ctx, prefix, from)
			if err != nil {
				t.Fatalf("watch %s from %d: %v", prefix, from, err)
			}
			expectEvents(t, fmt.Sprintf("watch %s from %d", prefix, from), w, s.m.since(prefix, from))
			quiet(t, w)
			cancel()
		}
	}
}

func testWatchLive(t *testing.T, s *suite) {
	s.churn(t, 10)
	from := int64(len(s.m.events))
	all, err := s.b.Watch(s.ctx, "/registry/", from)
	if err != nil {
		t.Fatal(err)
	}
	ns1, err := s.b.Watch(s.ctx, "/registry/pods/ns1/", from)
	if err != nil {
		t.Fatal(err)
	}
	s.churn(t, 30)
	s.create(t, "/registry/pods/ns10/x", "not ns1")
	expectEvents(t, "live watch of /registry/", all, s.m.since("/registry/", from))
	expectEvents(t, "live watch of ns1", ns1, s.m.since("/registry/pods/ns1/", from))
	quiet(t, ns1)
	// A watch from a revision not reached yet starts delivering there.
	future, err := s.b.Watch(s.ctx, "/registry/", s.b.CurrentRevision()+2)
	if err != nil {
		t.Fatalf("watch from a future revision: %v", err)
	}
	s.create(t, "/registry/f/ns/1", "skipped")
	s.create(t, "/registry/f/ns/2", "skipped")
	s.create(t, "/registry/f/ns/3", "seen")
	ev := next(t, future)
	if string(ev.KV.Value) != "seen" {
		t.Fatalf("future watch delivered %s first", fmtKV(ev.KV))
	}
}

func testWatchStops(t *testing.T, s *suite) {
	ctx, cancel := context.WithCancel(s.ctx)
	w, err := s.b.Watch(ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.create(t, "/registry/a/ns/1", "1")
	next(t, w)
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				if err := w.Err(); err != nil {
					t.Fatalf("watch ended by its context reports %v, want nil", err)
				}
				return
			}
		case <-deadline:
			t.Fatal("events channel still open 10s after the context ended")
		}
	}
}

func testCompaction(t *testing.T, s *suite) {
	s.churn(t, 120)
	c := int64(len(s.m.events)) / 2
	if err := s.b.Compact(s.ctx, c); err != nil {
		t.Fatalf("compact to %d: %v", c, err)
	}
	if got := s.b.CompactedRevision(); got != c {
		t.Fatalf("compacted revision %d, want %d", got, c)
	}
	_, err := s.b.List(s.ctx, "/registry/", store.ListOptions{Revision: c - 1})
	wantErr(t, "list below the compacted revision", err, store.ErrCompacted)
	_, err = s.b.Watch(s.ctx, "/registry/", c-1)
	wantErr(t, "watch below the compacted revision", err, store.ErrCompacted)
	res, err := s.b.List(s.ctx, "/registry/", store.ListOptions{Revision: c})
	if err != nil {
		t.Fatalf("list at the compacted revision: %v", err)
	}
	checkKVs(t, "list at the compacted revision", res.KVs, s.m.list("/registry/", c))
	w, err := s.b.Watch(s.ctx, "/registry/", c)
	if err != nil {
		t.Fatalf("watch from the compacted revision: %v", err)
	}
	expectEvents(t, "watch from the compacted revision", w, s.m.since("/registry/", c))
	cur := int64(len(s.m.events))
	res, err = s.b.List(s.ctx, "/registry/", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkKVs(t, "current state after compaction", res.KVs, s.m.list("/registry/", cur))
	if err := s.b.Compact(s.ctx, c-10); err != nil {
		t.Fatalf("compacting an older revision again: %v", err)
	}
	err = s.b.Compact(s.ctx, cur+1)
	wantErr(t, "compact to a future revision", err, store.ErrFutureRevision)
	// Compacting everything keeps the current state and the revision.
	if err := s.b.Compact(s.ctx, cur); err != nil {
		t.Fatal(err)
	}
	s.reopen(t)
	if s.b.CurrentRevision() != cur || s.b.CompactedRevision() != cur {
		t.Fatalf("after full compaction and restart: revision %d compacted %d, want %d", s.b.CurrentRevision(), s.b.CompactedRevision(), cur)
	}
	res, _ = s.b.List(s.ctx, "/registry/", store.ListOptions{})
	checkKVs(t, "state after full compaction and restart", res.KVs, s.m.list("/registry/", cur))
	w, err = s.b.Watch(s.ctx, "/registry/", cur)
	if err != nil {
		t.Fatalf("watch from the compacted revision after restart: %v", err)
	}
	s.churn(t, 5)
	expectEvents(t, "watch after full compaction and restart", w, s.m.since("/registry/", cur))
}

func testSlowWatcher(t *testing.T, s *suite) {
	slow, err := s.b.Watch(s.ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := s.b.Watch(s.ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 3*s.h.WatchQueue + 50
	got := make(chan int, 1)
	go func() {
		count := 0
		for range fast.Events() {
			if count++; count == n {
				break
			}
		}
		got <- count
	}()
	for i := range n {
		start := time.Now()
		if _, err := s.b.Create(s.ctx, fmt.Sprintf("/registry/cm/ns/k%05d", i), []byte("v"), store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("write %d took %v: a stalled watcher must not block writers", i, d)
		}
	}
	select {
	case c := <-got:
		if c != n {
			t.Fatalf("fast watcher got %d of %d events", c, n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fast watcher did not receive every event")
	}
	// The slow one is closed with ErrWatcherTooSlow; what it got before
	// that is still a prefix of the stream.
	deadline := time.After(10 * time.Second)
	for rev := int64(1); ; rev++ {
		select {
		case ev, ok := <-slow.Events():
			if !ok {
				wantErr(t, "slow watcher", slow.Err(), store.ErrWatcherTooSlow)
				return
			}
			if ev.KV.ModRevision != rev {
				t.Fatalf("slow watcher got revision %d, want %d", ev.KV.ModRevision, rev)
			}
		case <-deadline:
			t.Fatal("slow watcher was not dropped")
		}
	}
}
