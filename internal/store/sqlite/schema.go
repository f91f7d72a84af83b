package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

const (
	// applicationID marks the file as ours in the SQLite header ("ksrv").
	applicationID = 0x6b737276
	// schemaVersion is PRAGMA user_version of the layout below.
	schemaVersion = 1
)

// schema is the whole layout. The log is both the history and the current
// state: the newest non-deleted row of each key is its current value.
var schema = []string{
	`CREATE TABLE log (
		rev        INTEGER PRIMARY KEY, -- the global revision of this write
		key        TEXT    NOT NULL,
		create_rev INTEGER NOT NULL,    -- revision that created the key
		prev_rev   INTEGER NOT NULL,    -- row this write replaced (0: create)
		deleted    INTEGER NOT NULL,    -- 1: a deletion (tombstone)
		expires    INTEGER NOT NULL,    -- TTL deadline, unix ns (0: none)
		value      BLOB                 -- NULL for tombstones
	)`,
	`CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`,
	`INSERT INTO meta (name, value) VALUES ('compacted', 0)`,
	fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
	fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion),
}

// dsn builds the connection string. Every connection runs in WAL mode with
// synchronous=FULL: each commit fsyncs the WAL, so an acknowledged write
// survives kill -9 and power loss.
func dsn(path string, cacheKiB int, writer bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_sync", "FULL")
	q.Set("_cache_size", fmt.Sprint(-cacheKiB))
	if writer {
		q.Set("_txlock", "immediate")
	}
	return "file:" + escapePath(path) + "?" + q.Encode()
}

// escapePath escapes what SQLite's URI parser would misread in a path.
func escapePath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// prepare checks that the file is a kserver database of a known schema (or
// empty, then it lays the schema down) and sets the file-level pragmas. It
// writes nothing to a file it does not recognise.
func prepare(ctx context.Context, db *sql.DB, path string) error {
	var appID, version, tables int64
	err := db.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID)
	if err == nil {
		err = db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version)
	}
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables)
	}
	if err != nil {
		return describeOpenError(path, err)
	}
	switch {
	case appID == 0 && tables == 0:
		return initialize(ctx, db, path)
	case appID != applicationID:
		return fmt.Errorf("%s is not a kserver database (SQLite application_id %#x, want %#x); refusing to use it", path, appID, applicationID)
	case version > schemaVersion:
		return fmt.Errorf("%s has schema version %d, newer than this kserver understands (%d); use a newer kserver", path, version, schemaVersion)
	case version != schemaVersion:
		return fmt.Errorf("%s has unknown schema version %d (want %d)", path, version, schemaVersion)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return describeOpenError(path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("%s: cannot switch to WAL mode (journal_mode %q)", path, mode)
	}
	return nil
}

// initialize lays the schema into an empty file. auto_vacuum must be set
// before the first table exists; the rest is one transaction.
func initialize(ctx context.Context, db *sql.DB, path string) error {
	for _, p := range []string{`PRAGMA auto_vacuum = INCREMENTAL`, `PRAGMA journal_mode = WAL`} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("initialise %s: %w", path, err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("initialise %s: %w", path, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("initialise %s: %w", path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("initialise %s: %w", path, err)
	}
	return nil
}

// describeOpenError turns SQLite's terse codes into a message naming the
// problem.
func describeOpenError(path string, err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB:
			return fmt.Errorf("%s is not an SQLite database (or its header is damaged); refusing to use it: %w", path, err)
		case sqlite3.ErrCorrupt:
			return fmt.Errorf("%s is corrupt; restore it from a snapshot: %w", path, err)
		}
	}
	return fmt.Errorf("open %s: %w", path, err)
}
