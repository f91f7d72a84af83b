package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"kserver.dev/kserver/internal/store"
)

// prefixEnd is the smallest string greater than every string with the
// prefix, or "" when there is none (empty prefix, or all 0xff bytes).
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// readEvents reads the events of keys with the prefix whose revision is in
// (from, upTo] from the log. It is the path for revisions older than the
// in-memory ring: one range scan of the log's primary key, joined with each
// row's predecessor for the previous value. Its cost grows with the number
// of revisions in the range, not with the number of keys.
func (s *Store) readEvents(ctx context.Context, prefix string, from, upTo int64) ([]store.Event, error) {
	if from >= upTo {
		return nil, nil
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var compacted int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'compacted'`).Scan(&compacted); err != nil {
		return nil, err
	}
	if from < compacted {
		return nil, fmt.Errorf("revision %d: oldest available is %d: %w", from, compacted, store.ErrCompacted)
	}
	q := `SELECT l.rev, l.key, l.create_rev, l.deleted, l.value, p.rev, p.create_rev, p.value
		FROM log l LEFT JOIN log p ON p.rev = l.prev_rev AND l.prev_rev > 0
		WHERE l.rev > ? AND l.rev <= ?`
	args := []any{from, upTo}
	if prefix != "" {
		q += ` AND l.key >= ?`
		args = append(args, prefix)
		if end := prefixEnd(prefix); end != "" {
			q += ` AND l.key < ?`
			args = append(args, end)
		}
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY l.rev`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	s.stats.queries.Add(1)
	var out []store.Event
	for rows.Next() {
		var (
			ev                 store.Event
			deleted            bool
			value, prevValue   []byte
			prevRev, prevCrRev sql.NullInt64
		)
		if err := rows.Scan(&ev.KV.ModRevision, &ev.KV.Key, &ev.KV.CreateRevision, &deleted, &value, &prevRev, &prevCrRev, &prevValue); err != nil {
			return nil, err
		}
		ev.Type = store.EventCreate
		if prevRev.Valid {
			ev.Prev = &store.KeyValue{Key: ev.KV.Key, Value: prevValue, CreateRevision: prevCrRev.Int64, ModRevision: prevRev.Int64}
			ev.Type = store.EventUpdate
		}
		ev.KV.Value = value
		if deleted {
			if ev.Prev == nil {
				return nil, fmt.Errorf("log row %d deletes %s but its previous row is missing", ev.KV.ModRevision, ev.KV.Key)
			}
			ev.Type = store.EventDelete
			ev.KV.Value = ev.Prev.Value
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
