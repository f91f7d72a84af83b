package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"kserver.dev/kserver/internal/store"
)

type opKind uint8

const (
	opCreate opKind = iota + 1
	opUpdate
	opDelete
	opExpire // a TTL deletion: a delete whose conflicts are silently dropped
	opTask   // maintenance (compaction, vacuum) in a transaction of its own
	opRewind // a blocking checkpoint that lets the WAL start over
)

// request is one write handed to the writer goroutine.
type request struct {
	ctx    context.Context
	op     opKind
	key    string
	value  []byte
	expect int64
	ttl    time.Duration
	task   func(context.Context, *sql.Tx) (int64, error) // returns WAL bytes written, roughly
	done   chan result                                   // buffered; nil for internal requests
}

type result struct {
	kv  store.KeyValue
	err error
}

func (r *request) reply(res result) {
	if r.done != nil {
		r.done <- res
	}
}

// staged is a validated write with its revision assigned.
type staged struct {
	req     *request
	ev      store.Event
	expires int64
}

// writerState belongs to the writer goroutine alone.
type writerState struct {
	insert  *sql.Stmt
	batch   []*request
	staged  []staged
	overlay map[string]*store.KeyValue // writes earlier in the batch (nil: deleted)
	ttl     ttlHeap
	timer   *time.Timer
	timerAt time.Time
	armed   bool
	pruneAt int
}

func (w *writerState) init(ctx context.Context, s *Store) error {
	w.overlay = map[string]*store.KeyValue{}
	w.pruneAt = max(4096, 2*len(w.ttl))
	var err error
	w.insert, err = s.db.PrepareContext(ctx, `INSERT INTO log (rev, key, create_rev, prev_rev, deleted, expires, value) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare the log insert: %w", err)
	}
	return nil
}

// submit hands r to the writer and waits for its outcome. A request the
// writer has taken is always answered; once it is in a transaction the
// caller waits for the commit, so an error never hides a committed write.
func (s *Store) submit(ctx context.Context, r *request) (store.KeyValue, error) {
	r.ctx = ctx
	r.done = make(chan result, 1)
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return store.KeyValue{}, ctx.Err()
	case <-s.stop:
		return store.KeyValue{}, store.ErrClosed
	}
	res := <-r.done
	return res.kv, res.err
}

// writeLoop is the single writer: it takes every request waiting at that
// moment (group commit: while one transaction fsyncs, the next batch
// gathers), commits them in one transaction and applies them in order.
func (s *Store) writeLoop() {
	defer s.done.Done()
	defer s.w.insert.Close()
	s.armTTL()
	for {
		var timerC <-chan time.Time
		if s.w.armed {
			timerC = s.w.timer.C
		}
		select {
		case r := <-s.reqs:
			batch := s.gather(append(s.w.batch[:0], r))
			s.commitBatch(batch)
			clear(batch)
			s.w.batch = batch[:0]
		case <-timerC:
			s.w.armed = false
			s.expire()
		case <-s.stop:
			if s.w.timer != nil {
				s.w.timer.Stop()
			}
			return
		}
		s.armTTL()
	}
}

// gather adds the requests already waiting to batch. When that finds
// none, it lets the other runnable goroutines run once and looks again:
// on a busy server the handlers that are about to submit a write join
// this commit instead of paying for one of their own (each costs a WAL
// append and an fsync); on an idle one nothing else is runnable and the
// commit starts at once.
func (s *Store) gather(batch []*request) []*request {
	for yielded := false; len(batch) < s.cfg.MaxBatch; {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
			continue
		default:
		}
		if yielded || len(batch) > 1 {
			return batch
		}
		runtime.Gosched()
		yielded = true
	}
	return batch
}

// commitBatch validates, writes, commits and applies one batch, then runs
// any maintenance tasks in it, each in its own transaction.
func (s *Store) commitBatch(batch []*request) {
	st := s.w.staged[:0]
	next := s.rev.Load()
	clear(s.w.overlay)
	var tasks []*request
	for _, r := range batch {
		if r.op == opTask || r.op == opRewind {
			tasks = append(tasks, r)
			continue
		}
		if err := r.ctx.Err(); err != nil {
			r.reply(result{err: err})
			continue
		}
		sg, err := s.stage(r, next+1)
		if err != nil {
			r.reply(result{err: err})
			continue
		}
		next++
		st = append(st, sg)
	}
	if len(st) > 0 {
		start := time.Now()
		err := s.writeTx(st)
		if d := time.Since(start); d > 20*time.Millisecond {
			s.log.Debug("slow commit", "writes", len(st), "took", d)
		}
		if err != nil {
			err = fmt.Errorf("commit: %w", err)
			for i := range st {
				st[i].req.reply(result{err: err})
			}
		} else {
			s.apply(st)
		}
	}
	clear(st)
	s.w.staged = st[:0]
	for _, t := range tasks {
		start := time.Now()
		err := s.runTask(t)
		if d := time.Since(start); d > 20*time.Millisecond {
			s.log.Debug("slow maintenance transaction", "op", t.op, "took", d)
		}
		t.reply(result{err: err})
	}
}

// lookup is the key's value as of the writes staged so far.
func (s *Store) lookup(key string) (store.KeyValue, bool) {
	if kv, ok := s.w.overlay[key]; ok {
		if kv == nil {
			return store.KeyValue{}, false
		}
		return *kv, true
	}
	return s.index.Get(store.KeyValue{Key: key})
}

// stage checks a write against the current state and builds its event.
func (s *Store) stage(r *request, rev int64) (staged, error) {
	cur, exists := s.lookup(r.key)
	sg := staged{req: r}
	switch r.op {
	case opCreate:
		if exists {
			return sg, fmt.Errorf("create %s: %w", r.key, store.ErrExists)
		}
		sg.ev = store.Event{Type: store.EventCreate, KV: store.KeyValue{Key: r.key, Value: r.value, CreateRevision: rev, ModRevision: rev}}
	case opUpdate, opDelete, opExpire:
		if !exists {
			return sg, fmt.Errorf("%s %s: %w", verb(r.op), r.key, store.ErrNotFound)
		}
		if r.expect != 0 && cur.ModRevision != r.expect {
			return sg, fmt.Errorf("%s %s: expected revision %d, current is %d: %w", verb(r.op), r.key, r.expect, cur.ModRevision, store.ErrConflict)
		}
		prev := cur
		if r.op == opUpdate {
			sg.ev = store.Event{Type: store.EventUpdate, KV: store.KeyValue{Key: r.key, Value: r.value, CreateRevision: cur.CreateRevision, ModRevision: rev}, Prev: &prev}
		} else {
			sg.ev = store.Event{Type: store.EventDelete, KV: store.KeyValue{Key: r.key, Value: cur.Value, CreateRevision: cur.CreateRevision, ModRevision: rev}, Prev: &prev}
		}
	}
	if r.ttl > 0 && sg.ev.Type != store.EventDelete {
		sg.expires = time.Now().Add(r.ttl).UnixNano()
	}
	if sg.ev.Type == store.EventDelete {
		s.w.overlay[r.key] = nil
	} else {
		kv := sg.ev.KV
		s.w.overlay[r.key] = &kv
	}
	return sg, nil
}

func verb(op opKind) string {
	switch op {
	case opUpdate:
		return "update"
	case opExpire:
		return "expire"
	}
	return "delete"
}

// writeTx inserts the staged rows in one transaction and commits it.
func (s *Store) writeTx(st []staged) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	ins := tx.Stmt(s.w.insert)
	var bytes int64
	for i := range st {
		ev := &st[i].ev
		var prevRev int64
		if ev.Prev != nil {
			prevRev = ev.Prev.ModRevision
		}
		var value []byte
		deleted := ev.Type == store.EventDelete
		if !deleted {
			value = ev.KV.Value
			if value == nil {
				value = []byte{}
			}
		}
		if _, err := ins.Exec(ev.KV.ModRevision, ev.KV.Key, ev.KV.CreateRevision, prevRev, deleted, st[i].expires, value); err != nil {
			return err
		}
		bytes += int64(len(ev.KV.Key)+len(value)) + 64
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.stats.commits.Add(1)
	s.stats.writes.Add(int64(len(st)))
	s.noteWAL(bytes + 4096)
	return nil
}

// apply makes committed writes visible: index, history, watchers, then the
// acknowledgements, in revision order.
func (s *Store) apply(st []staged) {
	s.mu.Lock()
	for i := range st {
		ev := st[i].ev
		if ev.Type == store.EventDelete {
			s.index.Delete(ev.KV)
		} else {
			s.index.ReplaceOrInsert(ev.KV)
		}
		s.hist.add(ev)
		s.rev.Store(ev.KV.ModRevision)
		s.fanout(&ev)
	}
	s.mu.Unlock()
	for i := range st {
		if st[i].expires != 0 {
			s.w.ttl.push(ttlEntry{deadline: st[i].expires, key: st[i].ev.KV.Key, rev: st[i].ev.KV.ModRevision})
		}
		st[i].req.reply(result{kv: st[i].ev.KV})
	}
	s.pruneTTL()
}

// runTask runs one maintenance task in its own transaction.
func (s *Store) runTask(r *request) error {
	if r.op == opRewind {
		// Most frames were copied by the background checkpoint already;
		// this copies the rest and makes the next write start the WAL
		// from its beginning (journal_size_limit then trims the file).
		// It must not wait for readers (a snapshot in progress holds one
		// for seconds): with no busy timeout it gives up at once and the
		// next checkpoint tries again.
		conn, err := s.db.Conn(r.ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		var busy, frames, copied int64
		if _, err := conn.ExecContext(r.ctx, `PRAGMA busy_timeout = 0`); err != nil {
			return err
		}
		err = conn.QueryRowContext(r.ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied)
		_, rerr := conn.ExecContext(context.Background(), `PRAGMA busy_timeout = 10000`)
		s.stats.checkpoints.Add(1)
		return errors.Join(err, rerr)
	}
	tx, err := s.db.BeginTx(r.ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	walBytes, err := r.task(r.ctx, tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.stats.commits.Add(1)
	s.noteWAL(walBytes)
	return nil
}

// runInWriter queues fn as a maintenance transaction behind the writes
// already waiting and waits for it.
func (s *Store) runInWriter(ctx context.Context, fn func(context.Context, *sql.Tx) (int64, error)) error {
	_, err := s.submit(ctx, &request{op: opTask, task: fn})
	return err
}
