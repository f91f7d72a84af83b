package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"kserver.dev/kserver/internal/store"
)

// Compact discards history at and below rev: every row that a later row at
// or below rev replaced, and every deletion at or below rev. The state at
// rev itself stays readable. The work is split into transactions of
// CompactBatch revisions, each queued behind the writes waiting at that
// moment, so a writer waits for at most one small batch. Compacting a
// revision already compacted is a no-op.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if s.isClosed() {
		return store.ErrClosed
	}
	if cur := s.rev.Load(); rev > cur {
		return fmt.Errorf("compact to %d: current revision is %d: %w", rev, cur, store.ErrFutureRevision)
	}
	lo := s.CompactedRevision()
	if rev <= lo {
		return nil
	}
	start := time.Now()
	for lo < rev {
		hi := min(lo+s.cfg.CompactBatch, rev)
		err := s.runInWriter(ctx, func(ctx context.Context, tx *sql.Tx) (int64, error) {
			return compactRange(ctx, tx, lo, hi)
		})
		if err != nil {
			return fmt.Errorf("compact revisions %d-%d: %w", lo+1, hi, err)
		}
		s.mu.Lock()
		s.compacted = hi
		s.hist.trim(hi)
		s.mu.Unlock()
		lo = hi
	}
	s.stats.compactions.Add(1)
	s.log.Debug("compacted", "rev", rev, "took", time.Since(start))
	if err := s.vacuum(ctx); err != nil {
		return fmt.Errorf("compact to %d: %w", rev, err)
	}
	s.kickCheckpoint()
	return nil
}

// compactRange deletes, for revisions in (lo, hi], the rows they replaced
// and the deletions themselves, and records hi as compacted. It returns a
// rough count of the WAL bytes written (a page per deleted row at most).
func compactRange(ctx context.Context, tx *sql.Tx, lo, hi int64) (int64, error) {
	var deleted int64
	for _, q := range []string{
		`DELETE FROM log WHERE rev IN (SELECT prev_rev FROM log WHERE rev > ? AND rev <= ? AND prev_rev > 0)`,
		`DELETE FROM log WHERE rev > ? AND rev <= ? AND deleted = 1`,
	} {
		res, err := tx.ExecContext(ctx, q, lo, hi)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		deleted += n
	}
	_, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE name = 'compacted'`, hi)
	return (deleted + 2) * 4096, err
}

// vacuum returns free pages to the file system with incremental vacuum once
// they are a twentieth of the file (and at least 16 pages), a few hundred pages
// per transaction so writers interleave.
func (s *Store) vacuum(ctx context.Context) error {
	const step = 64
	for {
		var free, total int64
		if err := s.rdb.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			return err
		}
		if err := s.rdb.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&total); err != nil {
			return err
		}
		s.stats.queries.Add(2)
		if free < 16 || free*20 < total {
			return nil
		}
		n := min(free, step)
		err := s.runInWriter(ctx, func(ctx context.Context, tx *sql.Tx) (int64, error) {
			// The pragma frees one page per step: run it to completion
			// (a plain Exec would stop after the first page).
			rows, err := tx.QueryContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, n))
			if err != nil {
				return 0, err
			}
			for rows.Next() {
			}
			rows.Close()
			return 2 * n * 4096, rows.Err()
		})
		if err != nil {
			return fmt.Errorf("incremental vacuum: %w", err)
		}
	}
}

// compactLoop compacts automatically every CompactInterval, like
// kube-apiserver: each run compacts to the revision that was current at the
// previous run (keeping CompactMinRetain revisions at least). An idle store
// does nothing: no query runs when no write happened.
func (s *Store) compactLoop() {
	defer s.done.Done()
	if s.cfg.CompactInterval < 0 {
		return
	}
	t := time.NewTicker(s.cfg.CompactInterval)
	defer t.Stop()
	ctx := s.ctx
	last := s.rev.Load()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		target := min(last, s.rev.Load()-s.cfg.CompactMinRetain)
		last = s.rev.Load()
		if target <= s.CompactedRevision() {
			continue
		}
		if err := s.Compact(ctx, target); err != nil && ctx.Err() == nil {
			s.log.Warn("automatic compaction failed; will retry", "rev", target, "err", err)
		}
	}
}
