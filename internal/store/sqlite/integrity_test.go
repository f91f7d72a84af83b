package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kserver.dev/kserver/internal/store"
)

func openT(t *testing.T, path string, tune func(*Config)) *Store {
	t.Helper()
	cfg := DefaultConfig(path)
	cfg.CompactInterval = -1
	if tune != nil {
		tune(&cfg)
	}
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fill writes n keys of size bytes and closes the store.
func fill(t *testing.T, path string, n, size int) {
	t.Helper()
	s := openT(t, path, nil)
	for i := range n {
		if _, err := s.Create(t.Context(), fmt.Sprintf("/registry/cm/ns/k%05d", i), bytes.Repeat([]byte{'v'}, size), store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRejects: a foreign, damaged or newer file is a clear error and is
// left exactly as it was.
func TestOpenRejects(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{"not sqlite", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600)
		}, "is not an SQLite database"},
		{"foreign sqlite", func(t *testing.T, path string) {
			db, _ := sql.Open("sqlite3", path)
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE kine (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
				t.Fatal(err)
			}
		}, "is not a kserver database"},
		{"newer schema", func(t *testing.T, path string) {
			fill(t, path, 3, 10)
			db, _ := sql.Open("sqlite3", path)
			defer db.Close()
			if _, err := db.Exec(`PRAGMA user_version = 99`); err != nil {
				t.Fatal(err)
			}
		}, "schema version 99, newer"},
		{"damaged pages", func(t *testing.T, path string) {
			fill(t, path, 200, 3000)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			garbage := bytes.Repeat([]byte{0xa5, 0x13, 0x77}, 4096)
			for page := int64(3); page < 40; page += 3 { // spread damage over the b-tree
				f.WriteAt(garbage[:4096], page*4096)
			}
		}, "corrupt"},
		{"broken log invariants", func(t *testing.T, path string) {
			fill(t, path, 3, 10)
			db, _ := sql.Open("sqlite3", path)
			defer db.Close()
			if _, err := db.Exec(`UPDATE log SET prev_rev = 1 WHERE rev = 3`); err != nil {
				t.Fatal(err)
			}
		}, "corrupt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			tc.prepare(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig(path)
			s, err := Open(context.Background(), cfg)
			if err == nil {
				s.Close()
				t.Fatalf("open succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file and %q", err, tc.want)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Fatal("the rejected file was modified")
			}
		})
	}
}

func TestValueTooLarge(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), func(c *Config) { c.MaxValueBytes = 100 })
	_, err := s.Create(t.Context(), "/registry/cm/ns/big", make([]byte, 101), store.WriteOptions{})
	if !errors.Is(err, store.ErrValueTooLarge) {
		t.Fatalf("got %v, want ErrValueTooLarge", err)
	}
	if s.CurrentRevision() != 0 {
		t.Fatal("a rejected write consumed a revision")
	}
}
