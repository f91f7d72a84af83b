package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"kserver.dev/kserver/internal/store"
)

// load reads the whole log once, in revision order, to rebuild the index of
// current values, the recent-event ring and the TTL deadlines. Reading every
// row is also the integrity check of the table's pages: SQLite reports a
// damaged page as SQLITE_CORRUPT, and rows that break the log's invariants
// are reported too. Rows are read through the driver directly, so each
// value is copied once, out of SQLite, and kept.
func (s *Store) load(ctx context.Context) error {
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return describeOpenError(s.cfg.Path, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return errors.New("driver cannot query")
		}
		return s.loadFrom(ctx, q)
	})
	var corrupt *corruptError
	switch {
	case errors.As(err, &corrupt):
		return fmt.Errorf("%s is corrupt: %w", s.cfg.Path, err)
	case err != nil:
		return describeOpenError(s.cfg.Path, err)
	}
	return nil
}

type corruptError struct{ msg string }

func (e *corruptError) Error() string { return e.msg }

func corruptf(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}

func (s *Store) loadFrom(ctx context.Context, q driver.QueryerContext) error {
	// One read transaction, so the compacted revision and the rows agree.
	if _, err := q.QueryContext(ctx, "BEGIN", nil); err != nil {
		return err
	}
	defer q.QueryContext(context.Background(), "ROLLBACK", nil) //nolint:errcheck // read-only
	dest := make([]driver.Value, 7)
	if err := scanAll(ctx, q, `SELECT value FROM meta WHERE name = 'compacted'`, dest[:1], func() error {
		c, ok := dest[0].(int64)
		if !ok {
			return corruptf("compacted revision is %T, not an integer", dest[0])
		}
		s.compacted = c
		return nil
	}); err != nil {
		return fmt.Errorf("read compacted revision: %w", err)
	}
	s.hist.reset(s.compacted)
	// Reading rows out of SQLite and building the index run in parallel:
	// a reader goroutine hands batches of rows to this one.
	batches := make(chan []row, 4)
	stop := make(chan struct{})
	var scanErr error
	go func() {
		defer close(batches)
		scanErr = readLog(ctx, q, dest, batches, stop)
	}()
	last := s.compacted
	var err error
	for batch := range batches {
		for i := 0; i < len(batch) && err == nil; i++ {
			if err = s.loadRow(&batch[i], last); err == nil {
				last = max(last, batch[i].rev)
			}
		}
		if err != nil {
			close(stop)
			for range batches { // let the reader finish
			}
			return err
		}
	}
	if scanErr != nil {
		return scanErr
	}
	s.rev.Store(last)
	if s.hist.n == 0 {
		s.hist.floor = last
	}
	return nil
}

// readLog reads every log row in revision order and sends them in batches
// until the log ends or stop is closed.
func readLog(ctx context.Context, q driver.QueryerContext, dest []driver.Value, batches chan<- []row, stop <-chan struct{}) error {
	batch := make([]row, 0, 256)
	send := func() bool {
		select {
		case batches <- batch:
			batch = make([]row, 0, 256)
			return true
		case <-stop:
			return false
		}
	}
	err := scanAll(ctx, q, `SELECT rev, key, create_rev, prev_rev, deleted, expires, value FROM log ORDER BY rev`, dest, func() error {
		var r row
		if err := r.fill(dest); err != nil {
			return err
		}
		if batch = append(batch, r); len(batch) == cap(batch) && !send() {
			return errors.New("load stopped")
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		send()
	}
	return err
}

// scanAll runs query and calls fn after each row is read into dest.
func scanAll(ctx context.Context, q driver.QueryerContext, query string, dest []driver.Value, fn func() error) error {
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	for {
		if err := rows.Next(dest); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := fn(); err != nil {
			return err
		}
	}
}

// row is one log row.
type row struct {
	rev, createRev, prevRev, expires int64
	deleted                          bool
	key                              string
	value                            []byte
}

// fill converts driver values, rejecting columns of the wrong type.
func (r *row) fill(d []driver.Value) error {
	ints := []*int64{&r.rev, nil, &r.createRev, &r.prevRev, nil, &r.expires}
	for i, p := range ints {
		if p == nil {
			continue
		}
		v, ok := d[i].(int64)
		if !ok {
			return corruptf("log row: column %d is %T, not an integer", i, d[i])
		}
		*p = v
	}
	key, ok := d[1].(string)
	del, ok2 := d[4].(int64)
	if !ok || !ok2 {
		return corruptf("log row %d: key or deleted flag has the wrong type", r.rev)
	}
	r.key, r.deleted = key, del != 0
	switch v := d[6].(type) {
	case []byte:
		r.value = v
	case nil:
		r.value = nil
	default:
		return corruptf("log row %d: value is %T, not a blob", r.rev, d[6])
	}
	return nil
}

// loadRow applies one row to memory. Rows at or below the compacted
// revision are current values; rows above it are also events.
func (s *Store) loadRow(r *row, last int64) error {
	if r.rev <= 0 || r.key == "" || r.createRev <= 0 || r.createRev > r.rev || r.prevRev >= r.rev || r.prevRev < 0 {
		return corruptf("log row %d (key %q) breaks the log's invariants", r.rev, r.key)
	}
	if r.rev > s.compacted && r.rev != last+1 {
		return corruptf("log row %d follows row %d: revisions above the compacted revision %d must be contiguous", r.rev, last, s.compacted)
	}
	kv := store.KeyValue{Key: r.key, Value: r.value, CreateRevision: r.createRev, ModRevision: r.rev}
	var prev store.KeyValue
	var had bool
	if r.deleted {
		prev, had = s.index.Delete(kv)
		if !had {
			return corruptf("log row %d deletes key %q, which does not exist", r.rev, r.key)
		}
	} else {
		prev, had = s.index.ReplaceOrInsert(kv)
		if r.expires != 0 {
			s.w.ttl.push(ttlEntry{deadline: r.expires, key: r.key, rev: r.rev})
		}
	}
	if had && r.prevRev != prev.ModRevision || !had && r.prevRev != 0 && r.rev > s.compacted {
		return corruptf("log row %d (key %q) replaces revision %d, but the key's latest revision is %d", r.rev, r.key, r.prevRev, prev.ModRevision)
	}
	if r.rev <= s.compacted {
		return nil
	}
	ev := store.Event{Type: store.EventCreate, KV: kv}
	if had {
		p := prev
		ev.Prev = &p
		ev.Type = store.EventUpdate
	}
	if r.deleted {
		ev.Type = store.EventDelete
		ev.KV.Value = prev.Value
	}
	s.hist.add(ev)
	return nil
}
