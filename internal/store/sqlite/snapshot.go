package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	sqlite3 "github.com/mattn/go-sqlite3"

	"kserver.dev/kserver/internal/store"
)

// Snapshot writes a consistent copy of the database to path with SQLite's
// online backup API while writes continue: the copy is taken in one step
// inside a read transaction of its own connection, which in WAL mode never
// blocks the writer. The copy goes to a temporary file in the same folder,
// is fsynced and renamed, so path is either absent or complete. The result
// is an ordinary kserver database that Open accepts.
func (s *Store) Snapshot(ctx context.Context, path string) error {
	if s.isClosed() {
		return fmt.Errorf("snapshot: %w", store.ErrClosed)
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("snapshot: %q is not an absolute path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath)
	if err := s.backup(ctx, tmpPath); err != nil {
		return fmt.Errorf("snapshot to %s: %w", path, err)
	}
	if err := syncFile(tmpPath); err != nil {
		return fmt.Errorf("snapshot to %s: %w", path, err)
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return syncFile(filepath.Dir(path))
}

func (s *Store) backup(ctx context.Context, dest string) error {
	dst, err := sql.Open("sqlite3", dsn(dest, 256, true))
	if err != nil {
		return err
	}
	defer dst.Close()
	dconn, err := dst.Conn(ctx)
	if err != nil {
		return err
	}
	defer dconn.Close()
	sconn, err := s.rdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer sconn.Close()
	s.stats.queries.Add(1)
	return dconn.Raw(func(d any) error {
		return sconn.Raw(func(src any) error {
			dc, ok1 := d.(*sqlite3.SQLiteConn)
			sc, ok2 := src.(*sqlite3.SQLiteConn)
			if !ok1 || !ok2 {
				return errors.New("unexpected driver connection type")
			}
			b, err := dc.Backup("main", sc, "main")
			if err != nil {
				return err
			}
			if _, err := b.Step(-1); err != nil {
				b.Close()
				return err
			}
			return b.Finish()
		})
	})
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
