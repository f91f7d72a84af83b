// Package sqlite is the SQLite backend of store.Backend: kserver's default
// datastore, one file at <data-dir>/server/db/state.db.
//
// The design in one paragraph (docs/store.md has the whole of it): every
// write appends one row to a single `log` table whose INTEGER PRIMARY KEY is
// the revision; one writer goroutine batches concurrent writes into one
// transaction (group commit) and, after the commit, applies them in order to
// an in-memory B-tree of current values, to a bounded in-memory ring of
// recent events, and to the watchers. Reads and watches are served from
// memory; SQLite is read only at open and for revisions older than the ring.
// Compaction deletes superseded rows in small transactions queued behind
// writes, a background connection checkpoints the WAL, and freed pages are
// returned with incremental vacuum. Keys with a TTL are expired by one timer
// on the earliest deadline.
package sqlite
