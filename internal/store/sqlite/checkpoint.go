package sqlite

import (
	"time"
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

// checkpoint runs one PASSIVE checkpoint.
func (s *Store) checkpoint() {
	pending := s.stats.pendingWAL.Swap(0)
	var busy, logFrames, copied int64
	err := s.rdb.QueryRowContext(s.ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied)
	s.stats.queries.Add(1)
	s.stats.checkpoints.Add(1)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("checkpoint failed", "err", err)
		}
		s.stats.pendingWAL.Add(pending)
		return
	}
	if copied < logFrames {
		// A reader pinned part of the WAL; count the rest as still pending.
		s.stats.pendingWAL.Add((logFrames - copied) * 4096)
	}
}
