package sqlite

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"kserver.dev/kserver/internal/store"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestIdleIsQuiet: once writes stop and the idle checkpoint has run, the
// store issues no SQL at all (no polling, no commits) while idle, even
// with watchers and TTL keys far in the future.
func TestIdleIsQuiet(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), func(c *Config) {
		c.CheckpointIdle = 50 * time.Millisecond
		c.CompactInterval = 100 * time.Millisecond // automatic compaction armed, nothing to do
	})
	for i := range 20 {
		if _, err := s.Create(t.Context(), fmt.Sprintf("/registry/events/ns/e%d", i), []byte("x"), store.WriteOptions{TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := s.Watch(t.Context(), "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		<-w.Events()
	}
	waitFor(t, "idle checkpoint", 5*time.Second, func() bool { return s.Stats().Checkpoints > 0 })
	before := s.Stats()
	time.Sleep(600 * time.Millisecond) // the observation window: several compaction ticks
	after := s.Stats()
	if after.Commits != before.Commits || after.Queries != before.Queries || after.Checkpoints != before.Checkpoints {
		t.Fatalf("idle store did SQL work: commits %d→%d, queries %d→%d, checkpoints %d→%d",
			before.Commits, after.Commits, before.Queries, after.Queries, before.Checkpoints, after.Checkpoints)
	}
	if after.WALBytes != 0 {
		t.Logf("WAL holds %d bytes after the idle checkpoint (rewound on the next write)", after.WALBytes)
	}
}

// TestOldRevisionsReadFromLog: with a tiny in-memory ring, a watch from an
// old revision is served from the log (one SQL read), then joins the live
// stream without gaps.
func TestOldRevisionsReadFromLog(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), func(c *Config) { c.HistoryEvents = 4 })
	for i := range 40 {
		if _, err := s.Create(t.Context(), fmt.Sprintf("/registry/cm/ns/k%02d", i), []byte("x"), store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.HistoryEvents != 4 || st.HistoryFloor != 36 {
		t.Fatalf("ring holds %d events above %d, want 4 above 36", st.HistoryEvents, st.HistoryFloor)
	}
	q := s.Stats().Queries
	w, err := s.Watch(t.Context(), "/registry/", 10)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stats().Queries == q {
		t.Fatal("watch from revision 10 did not read the log")
	}
	if _, err := s.Create(t.Context(), "/registry/cm/ns/live", []byte("x"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for rev := int64(11); rev <= 41; rev++ {
		if ev := <-w.Events(); ev.KV.ModRevision != rev {
			t.Fatalf("got revision %d, want %d", ev.KV.ModRevision, rev)
		}
	}
	// A list at an old revision reads the log once, and sees the state then.
	q = s.Stats().Queries
	old, err := s.List(t.Context(), "/registry/", store.ListOptions{Revision: 12})
	if err != nil {
		t.Fatal(err)
	}
	if s.Stats().Queries != q+1 || len(old.KVs) != 12 || old.Revision != 12 {
		t.Fatalf("list at 12: %d keys at %d with %d queries, want 12 keys with one query", len(old.KVs), old.Revision, s.Stats().Queries-q)
	}
	// Recent revisions cost no SQL.
	q = s.Stats().Queries
	if _, err := s.List(t.Context(), "/registry/", store.ListOptions{Revision: 39}); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Queries != q {
		t.Fatal("a list at a revision inside the ring read SQL")
	}
}

// TestSpaceBounded: heavy updates of few keys, then compaction, leave a
// database no larger than twice the live data and a small WAL.
func TestSpaceBounded(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), func(c *Config) { c.CheckpointBytes = 1 << 20 })
	const keys, updates, size = 200, 6000, 1024
	value := bytes.Repeat([]byte{'x'}, size)
	var wg sync.WaitGroup
	for g := range 8 { // concurrent writers, so group commit keeps this quick
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < updates; i += 8 {
				key := fmt.Sprintf("/registry/leases/ns/k%03d", i%keys)
				var err error
				if i < keys {
					_, err = s.Create(t.Context(), key, value, store.WriteOptions{})
				} else {
					_, err = s.Update(t.Context(), key, value, 0, store.WriteOptions{})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	grown := s.Stats().DBBytes + s.Stats().WALBytes
	if err := s.Compact(t.Context(), s.CurrentRevision()); err != nil {
		t.Fatal(err)
	}
	s.checkpoint()
	// One more write lets the WAL rewind and truncate.
	if _, err := s.Update(t.Context(), "/registry/leases/ns/k000", value, 0, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var free, pages int64
	s.rdb.QueryRow(`PRAGMA freelist_count`).Scan(&free)
	s.rdb.QueryRow(`PRAGMA page_count`).Scan(&pages)
	t.Logf("pages %d, free %d", pages, free)
	st := s.Stats()
	live := int64(keys * (size + len("/registry/leases/ns/k000")))
	t.Logf("live %d bytes; before compaction db+wal %d; after: db %d, wal %d", live, grown, st.DBBytes, st.WALBytes)
	if st.DBBytes > 2*live {
		t.Fatalf("database is %d bytes, more than twice the %d live bytes", st.DBBytes, live)
	}
	if st.WALBytes > s.cfg.WALLimit {
		t.Fatalf("WAL is %d bytes, above its limit %d", st.WALBytes, s.cfg.WALLimit)
	}
}

// TestRewindDoesNotWaitForReaders: a long SQL read (a snapshot, an old
// watch) pins the WAL; the writer's rewind checkpoint must give up at once
// instead of stalling writes behind it.
func TestRewindDoesNotWaitForReaders(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), nil)
	for i := range 50 {
		if _, err := s.Create(t.Context(), fmt.Sprintf("/registry/cm/ns/k%d", i), []byte("x"), store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.rdb.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(t.Context(), "/registry/cm/ns/after", []byte("x"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Checkpoint(t.Context()); err != nil {
		t.Fatalf("checkpoint with a reader: %v", err)
	}
	if _, err := s.Create(t.Context(), "/registry/cm/ns/after2", []byte("x"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("checkpoint and a write took %v while a reader was open: the rewind waited for it", d)
	}
}
