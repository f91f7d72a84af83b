// Package storetest is the conformance suite that every store.Backend runs:
// revision monotonicity, CAS conflicts, list consistency and pagination at
// a revision, watch ordering from any revision, compaction, restart
// recovery, TTL, concurrent writers, slow-watcher drop and snapshots. A
// backend's test calls Run with a Harness that opens it on a folder.
package storetest
