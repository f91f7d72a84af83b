package sqlite

import (
	"context"
	"time"

	"kserver.dev/kserver/internal/store"
)

// noteWAL records bytes committed since the last checkpoint and wakes the
// checkpointer (writer only; never blocks).
func (s *Store) noteWAL(bytes int64) {
	s.stats.pendingWAL.Add(bytes)
	s.kickCheckpoint()
}

func (s *Store) kickCheckpoint() {
	select {
	case s.checkpoints <- struct{}{}:
	default:
	}
}

// checkpointLoop copies the WAL back into the database file from its own
// connection, so the writer never pays for it: once about CheckpointBytes
// were committed, and once more after CheckpointIdle without writes. The
// writer's automatic checkpoint is off. A PASSIVE checkpoint never blocks
// writers; since reads are served from memory there are almost never
// readers to starve it, and when the WAL was fully copied the next write
// rewinds it and journal_size_limit truncates the file.
func (s *Store) checkpointLoop() {
	defer s.done.Done()
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	var idleC <-chan time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-s.checkpoints:
			if s.stats.pendingWAL.Load() < s.cfg.CheckpointBytes {
				idle.Reset(s.cfg.CheckpointIdle)
				idleC = idle.C
				continue
			}
		case <-idleC:
		}
		idleC = nil
		idle.Stop()
		s.checkpoint()
	}
}

// checkpoint runs a PASSIVE checkpoint (and, when the WAL has grown, a
// rewind; see below).
func (s *Store) checkpoint() {
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	pending := s.stats.pendingWAL.Swap(0)
	frames, copied, err := s.passive()
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("checkpoint failed", "err", err)
		}
		s.stats.pendingWAL.Add(pending)
		return
	}
	if copied < frames {
		// A reader pinned part of the WAL; count the rest as still pending.
		s.stats.pendingWAL.Add((frames - copied) * 4096)
	}
	// Under a steady stream of writes a passive checkpoint never finds the
	// WAL fully copied, so the WAL would never start over and would grow
	// without bound. Once it is half its limit, the writer itself finishes
	// the checkpoint between two batches. To keep that pause short, first
	// catch up passively with what was written during the pass above.
	if frames*(4096+24) <= s.cfg.WALLimit/2 {
		return
	}
	for range 3 {
		more, c, err := s.passive()
		if err != nil || more-copied < 64 {
			break
		}
		copied = c
	}
	if err := s.runRewind(); err != nil && s.ctx.Err() == nil {
		s.log.Warn("checkpoint restart failed", "err", err)
	}
}

// passive runs one PASSIVE checkpoint: it copies WAL frames into the
// database file without blocking the writer, and reports the WAL's frames
// and how many of them are now copied.
func (s *Store) passive() (frames, copied int64, err error) {
	var busy int64
	err = s.rdb.QueryRowContext(s.ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	s.stats.queries.Add(1)
	s.stats.checkpoints.Add(1)
	return frames, copied, err
}

func (s *Store) runRewind() error {
	_, err := s.submit(s.ctx, &request{op: opRewind})
	return err
}

// Checkpoint copies the whole WAL into the database file and lets the WAL
// start over (the writer pauses for the part not yet copied). The store
// does this by itself; the method is for tools and benchmarks that want
// the database file's size to be current.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	s.checkpoint()
	_, err := s.submit(ctx, &request{op: opRewind})
	return err
}
