package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"kserver.dev/kserver/internal/store"
)

// load reads the whole log once, in revision order, to rebuild the index of
// current values, the recent-event ring and the TTL deadlines. Reading every
// row is also the integrity check of the table's pages: SQLite reports a
// damaged page as SQLITE_CORRUPT, and rows that break the log's invariants
// are reported too.
func (s *Store) load(ctx context.Context) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return describeOpenError(s.cfg.Path, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var compacted int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'compacted'`).Scan(&compacted); err != nil {
		return describeOpenError(s.cfg.Path, fmt.Errorf("read compacted revision: %w", err))
	}
	s.compacted = compacted
	s.hist.reset(compacted)
	rows, err := tx.QueryContext(ctx, `SELECT rev, key, create_rev, prev_rev, deleted, expires, value FROM log ORDER BY rev`)
	if err != nil {
		return describeOpenError(s.cfg.Path, err)
	}
	defer rows.Close()
	last := compacted
	var r row
	for rows.Next() {
		if err := rows.Scan(&r.rev, &r.key, &r.createRev, &r.prevRev, &r.deleted, &r.expires, &r.value); err != nil {
			return describeOpenError(s.cfg.Path, err)
		}
		if err := s.loadRow(&r, last); err != nil {
			return fmt.Errorf("%s is corrupt: %w", s.cfg.Path, err)
		}
		last = max(last, r.rev)
	}
	if err := rows.Err(); err != nil {
		return describeOpenError(s.cfg.Path, err)
	}
	s.rev.Store(last)
	if s.hist.n == 0 {
		s.hist.floor = last
	}
	return nil
}

// row is one log row.
type row struct {
	rev, createRev, prevRev, expires int64
	deleted                          bool
	key                              string
	value                            []byte
}

// loadRow applies one row to memory. Rows at or below the compacted
// revision are current values; rows above it are also events.
func (s *Store) loadRow(r *row, last int64) error {
	if r.rev <= 0 || r.key == "" || r.createRev <= 0 || r.createRev > r.rev || r.prevRev >= r.rev || r.prevRev < 0 {
		return fmt.Errorf("log row %d (key %q) breaks the log's invariants", r.rev, r.key)
	}
	prev, had := s.index.Get(store.KeyValue{Key: r.key})
	if r.rev > s.compacted && r.rev != last+1 {
		return fmt.Errorf("log row %d follows row %d: revisions above the compacted revision %d must be contiguous", r.rev, last, s.compacted)
	}
	if had && r.prevRev != prev.ModRevision || !had && r.prevRev != 0 && r.rev > s.compacted {
		return fmt.Errorf("log row %d (key %q) replaces revision %d, but the key's latest revision is %d", r.rev, r.key, r.prevRev, prev.ModRevision)
	}
	kv := store.KeyValue{Key: r.key, Value: r.value, CreateRevision: r.createRev, ModRevision: r.rev}
	ev := store.Event{Type: store.EventCreate, KV: kv}
	if had {
		p := prev
		ev.Prev = &p
		ev.Type = store.EventUpdate
	}
	if r.deleted {
		if !had {
			return fmt.Errorf("log row %d deletes key %q, which does not exist", r.rev, r.key)
		}
		ev.Type = store.EventDelete
		ev.KV.Value = prev.Value
		s.index.Delete(kv)
	} else {
		s.index.ReplaceOrInsert(kv)
		if r.expires != 0 {
			s.w.ttl.push(ttlEntry{deadline: r.expires, key: r.key, rev: r.rev})
		}
	}
	if r.rev > s.compacted {
		s.hist.add(ev)
	}
	r.value = nil // the next Scan must not reuse this slice
	return nil
}
