package storetest

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"kserver.dev/kserver/internal/store"
)

func testRestart(t *testing.T, s *suite) {
	s.churn(t, 100)
	s.b.Compact(s.ctx, 30)
	s.churn(t, 20)
	cur := int64(len(s.m.events))
	s.reopen(t)
	if got := s.b.CurrentRevision(); got != cur {
		t.Fatalf("revision after restart %d, want %d", got, cur)
	}
	if got := s.b.CompactedRevision(); got != 30 {
		t.Fatalf("compacted revision after restart %d, want 30", got)
	}
	res, err := s.b.List(s.ctx, "/registry/", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkKVs(t, "state after restart", res.KVs, s.m.list("/registry/", cur))
	// History written before the restart is still served.
	for _, from := range []int64{30, 77, cur - 1} {
		w, err := s.b.Watch(s.ctx, "/registry/", from)
		if err != nil {
			t.Fatalf("watch from %d after restart: %v", from, err)
		}
		expectEvents(t, fmt.Sprintf("watch from %d after restart", from), w, s.m.since("/registry/", from))
		res, err := s.b.List(s.ctx, "/registry/", store.ListOptions{Revision: from})
		if err != nil {
			t.Fatalf("list at %d after restart: %v", from, err)
		}
		checkKVs(t, fmt.Sprintf("list at %d after restart", from), res.KVs, s.m.list("/registry/", from))
	}
	// Writing goes on from the same revision.
	s.churn(t, 10)
}

// waitGone waits until key is absent.
func waitGone(t *testing.T, b store.Backend, key string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := b.Get(t.Context(), key); err != nil {
			wantErr(t, "get of an expired key", err, store.ErrNotFound)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still present %v after its TTL", key, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testTTL(t *testing.T, s *suite) {
	w, err := s.b.Watch(s.ctx, "/registry/events/", 0)
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.b.Create(s.ctx, "/registry/events/ns/short", []byte("e"), store.WriteOptions{TTL: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	long, err := s.b.Create(s.ctx, "/registry/events/ns/long", []byte("e"), store.WriteOptions{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// An update without a TTL removes the deadline.
	kept, err := s.b.Create(s.ctx, "/registry/events/ns/kept", []byte("e"), store.WriteOptions{TTL: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.Update(s.ctx, kept.Key, []byte("e2"), kept.ModRevision, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.b, short.Key, 10*time.Second)
	for range 4 {
		next(t, w) // the four writes above
	}
	ev := next(t, w)
	if ev.Type != store.EventDelete || ev.KV.Key != short.Key || ev.KV.ModRevision != 5 {
		t.Fatalf("expiry event: %d %s, want a delete of %s at revision 5", ev.Type, fmtKV(ev.KV), short.Key)
	}
	if _, err := s.b.Get(s.ctx, long.Key); err != nil {
		t.Fatalf("key with a one-hour TTL is gone: %v", err)
	}
	if _, err := s.b.Get(s.ctx, kept.Key); err != nil {
		t.Fatalf("key whose TTL was removed by an update is gone: %v", err)
	}
	quiet(t, w)
}

func testTTLRestart(t *testing.T, s *suite) {
	if _, err := s.b.Create(s.ctx, "/registry/events/ns/soon", []byte("e"), store.WriteOptions{TTL: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.Create(s.ctx, "/registry/events/ns/later", []byte("e"), store.WriteOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	s.reopen(t) // before the deadline: it must be reloaded
	waitGone(t, s.b, "/registry/events/ns/soon", 10*time.Second)
	if _, err := s.b.Create(s.ctx, "/registry/events/ns/down", []byte("e"), store.WriteOptions{TTL: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := s.b.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the deadline passes while closed
	s.b = s.open(t)
	waitGone(t, s.b, "/registry/events/ns/down", 10*time.Second)
	if _, err := s.b.Get(s.ctx, "/registry/events/ns/later"); err != nil {
		t.Fatalf("key with a one-hour TTL lost across restarts: %v", err)
	}
}

func testConcurrentWriters(t *testing.T, s *suite) {
	const writers, each = 16, 60
	w, err := s.b.Watch(s.ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	total := writers * each // each delete below is followed by a create
	for i := 10; i < each; i++ {
		if i%7 == 0 {
			total += writers
		}
	}
	seen := make(chan []int64, 1)
	go func() { // read while writing: this watcher keeps up
		var got []int64
		for ev := range w.Events() {
			if got = append(got, ev.KV.ModRevision); len(got) == total {
				break
			}
		}
		seen <- got
	}()
	var mu sync.Mutex
	var revs []int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("/registry/cm/w%d/k%d", g, i%10)
				var kv store.KeyValue
				var err error
				switch {
				case i < 10:
					kv, err = s.b.Create(s.ctx, key, []byte(fmt.Sprint(i)), store.WriteOptions{})
				case i%7 == 0:
					kv, err = s.b.Delete(s.ctx, key, 0)
					if err == nil {
						_, err = s.b.Create(s.ctx, key, []byte("again"), store.WriteOptions{})
						mu.Lock()
						revs = append(revs, kv.ModRevision+0)
						mu.Unlock()
						kv, _ = s.b.Get(s.ctx, key)
					}
				default:
					kv, err = s.b.Update(s.ctx, key, []byte(fmt.Sprint(i)), 0, store.WriteOptions{})
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				revs = append(revs, kv.ModRevision)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	for i, r := range revs {
		if r != int64(i+1) {
			t.Fatalf("acknowledged revisions are not 1..%d without gaps or repeats: position %d holds %d", len(revs), i, r)
		}
	}
	var got []int64
	select {
	case got = <-seen:
	case <-time.After(20 * time.Second):
		t.Fatal("watcher did not see every write")
	}
	if len(got) != len(revs) {
		t.Fatalf("watcher saw %d events, writers made %d", len(got), len(revs))
	}
	for i, r := range got {
		if r != int64(i+1) {
			t.Fatalf("watch event %d has revision %d: events out of order", i, r)
		}
	}
}

func testSnapshot(t *testing.T, s *suite) {
	s.churn(t, 50)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { // writes continue during the snapshot
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := s.b.Create(s.ctx, fmt.Sprintf("/registry/bg/ns/k%d", i), []byte("x"), store.WriteOptions{}); err != nil {
				done <- err
				return
			}
		}
	}()
	before := s.b.CurrentRevision()
	dir := t.TempDir()
	if err := s.b.Snapshot(s.ctx, s.h.DataFile(dir)); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	after := s.b.CurrentRevision()
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("write during snapshot: %v", err)
	}
	snap, err := s.h.Open(t, dir)
	if err != nil {
		t.Fatalf("open snapshot: %v", err)
	}
	defer snap.Close()
	rev := snap.CurrentRevision()
	if rev < before || rev > after {
		t.Fatalf("snapshot at revision %d, taken between %d and %d", rev, before, after)
	}
	got, err := snap.List(s.ctx, "/registry/pods/", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkKVs(t, "snapshot", got.KVs, s.m.list("/registry/pods/", int64(len(s.m.events))))
	n, _ := snap.Count(s.ctx, "/registry/bg/")
	if n != rev-int64(len(s.m.events)) {
		t.Fatalf("snapshot at revision %d holds %d background keys, want %d", rev, n, rev-int64(len(s.m.events)))
	}
	if _, err := filepath.Abs(s.h.DataFile(dir)); err != nil {
		t.Fatal(err)
	}
}

func testClosed(t *testing.T, s *suite) {
	s.create(t, "/registry/a/ns/x", "1")
	w, err := s.b.Watch(s.ctx, "/registry/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.b.Close(); err != nil {
		t.Fatal(err)
	}
	for range w.Events() {
	}
	wantErr(t, "watcher of a closed store", w.Err(), store.ErrClosed)
	_, err = s.b.Create(s.ctx, "/registry/a/ns/y", nil, store.WriteOptions{})
	wantErr(t, "create on a closed store", err, store.ErrClosed)
	_, err = s.b.Get(s.ctx, "/registry/a/ns/x")
	wantErr(t, "get on a closed store", err, store.ErrClosed)
	_, err = s.b.Watch(s.ctx, "/registry/", 0)
	wantErr(t, "watch on a closed store", err, store.ErrClosed)
	s.b = s.open(t) // for the cleanup
}
