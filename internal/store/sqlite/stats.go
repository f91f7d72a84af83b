package sqlite

import "os"

// Stats are the store's figures for benchmarks, tests and metrics.
type Stats struct {
	Keys          int   // current keys
	Revision      int64 // current revision
	Compacted     int64 // compacted revision
	HistoryEvents int   // events in the in-memory ring
	HistoryFloor  int64 // the ring holds every event above this revision
	Watchers      int   // registered watchers
	Commits       int64 // SQLite write transactions since Open
	Writes        int64 // writes (revisions) committed since Open
	Queries       int64 // SQL reads since Open (old revisions, checkpoints, vacuum checks, snapshots)
	Checkpoints   int64 // WAL checkpoints since Open
	Compactions   int64 // completed Compact calls since Open
	Expired       int64 // TTL deadlines handled since Open
	Dropped       int64 // watchers dropped for being too slow
	DBBytes       int64 // size of the database file
	WALBytes      int64 // size of the WAL file
}

// Stats returns a snapshot of the store's figures.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	st := Stats{
		Keys:          s.index.Len(),
		Revision:      s.rev.Load(),
		Compacted:     s.compacted,
		HistoryEvents: s.hist.n,
		HistoryFloor:  s.hist.floor,
		Watchers:      len(s.watchers),
	}
	s.mu.RUnlock()
	st.Commits = s.stats.commits.Load()
	st.Writes = s.stats.writes.Load()
	st.Queries = s.stats.queries.Load()
	st.Checkpoints = s.stats.checkpoints.Load()
	st.Compactions = s.stats.compactions.Load()
	st.Expired = s.stats.expired.Load()
	st.Dropped = s.stats.dropped.Load()
	if fi, err := os.Stat(s.cfg.Path); err == nil {
		st.DBBytes = fi.Size()
	}
	if fi, err := os.Stat(s.cfg.Path + "-wal"); err == nil {
		st.WALBytes = fi.Size()
	}
	return st
}
