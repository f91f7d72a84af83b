package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"

	"kserver.dev/kserver/internal/store"
)

var _ store.Backend = (*Store)(nil)

// Store is the SQLite backend. It is a handle like *sql.DB: Open loads the
// database and starts the store's goroutines (writer, checkpointer,
// compactor); Close stops them.
type Store struct {
	cfg Config
	log *slog.Logger

	db  *sql.DB // the one write connection, owned by the writer goroutine
	rdb *sql.DB // reading connections: old revisions, checkpoints, snapshots

	// mu guards the in-memory state below. Readers hold it shared; the
	// writer holds it exclusively only while applying a committed batch.
	mu        sync.RWMutex
	index     *btree.BTreeG[store.KeyValue] // current value of every key
	hist      history                       // recent events, contiguous revisions
	compacted int64
	watchers  map[*watcher]struct{}
	closed    bool

	rev atomic.Int64 // last acknowledged revision

	ctx         context.Context // ends at Close
	cancel      context.CancelFunc
	reqs        chan *request // unbuffered: a send succeeds only if the writer took it
	stop        chan struct{} // closed by Close
	done        sync.WaitGroup
	compactMu   sync.Mutex    // one Compact at a time
	ckptMu      sync.Mutex    // one checkpoint at a time
	checkpoints chan struct{} // kicks the checkpointer
	closeOnce   sync.Once
	closeErr    error

	w     writerState // owned by the writer goroutine
	stats counters
}

// counters are the figures Stats reports.
type counters struct {
	commits, writes, queries, checkpoints, compactions, expired, dropped atomic.Int64
	pendingWAL                                                           atomic.Int64
}

// Open opens (or creates) the database at cfg.Path, checks that it is a
// kserver database of a known schema, loads it into memory and starts the
// store. A damaged or foreign file is an error, never reset. ctx bounds the
// opening only; the store runs until Close.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := createFile(cfg.Path); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "store"),
		index:       btree.NewG(32, func(a, b store.KeyValue) bool { return a.Key < b.Key }),
		watchers:    map[*watcher]struct{}{},
		reqs:        make(chan *request),
		stop:        make(chan struct{}),
		checkpoints: make(chan struct{}, 1),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hist.init(cfg.HistoryEvents, cfg.HistoryBytes)
	if err := s.openDB(ctx); err != nil {
		s.cancel()
		return nil, err
	}
	start := time.Now()
	if err := s.load(ctx); err != nil {
		s.cancel()
		s.db.Close()
		s.rdb.Close()
		return nil, err
	}
	s.log.Debug("store loaded", "path", cfg.Path, "keys", s.index.Len(), "rev", s.rev.Load(),
		"compacted", s.compacted, "took", time.Since(start))
	if err := s.w.init(ctx, s); err != nil {
		s.cancel()
		s.db.Close()
		s.rdb.Close()
		return nil, err
	}
	s.done.Add(3)
	go s.writeLoop()
	go s.checkpointLoop()
	go s.compactLoop()
	return s, nil
}

// createFile makes the folder (0700) and the file (0600) so that SQLite's
// WAL and shm files inherit owner-only permissions.
func createFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create database folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	// Make the new directory entry itself durable.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open database folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync database folder: %w", err)
	}
	return nil
}

func (s *Store) openDB(ctx context.Context) error {
	db, err := sql.Open("sqlite3", dsn(s.cfg.Path, 2048, true))
	if err != nil {
		return fmt.Errorf("open %s: %w", s.cfg.Path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := prepare(ctx, db, s.cfg.Path); err != nil {
		db.Close()
		return err
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = %d`, s.cfg.WALLimit)); err != nil {
		db.Close()
		return fmt.Errorf("configure %s: %w", s.cfg.Path, err)
	}
	rdb, err := sql.Open("sqlite3", dsn(s.cfg.Path, 512, false))
	if err != nil {
		db.Close()
		return fmt.Errorf("open %s: %w", s.cfg.Path, err)
	}
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(1)
	rdb.SetConnMaxIdleTime(time.Minute)
	s.db, s.rdb = db, rdb
	return nil
}

// CurrentRevision is the revision of the last acknowledged write.
func (s *Store) CurrentRevision() int64 { return s.rev.Load() }

// CompactedRevision is the newest compacted revision; Lists and Watches at
// this revision or newer are served.
func (s *Store) CompactedRevision() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.compacted
}

// Close stops the writer (failing queued writes with store.ErrClosed),
// drops every watcher with store.ErrClosed, checkpoints and truncates the
// WAL and closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		close(s.stop)
		s.done.Wait()
		s.mu.Lock()
		s.closed = true
		for w := range s.watchers {
			w.drop(store.ErrClosed)
			delete(s.watchers, w)
		}
		s.mu.Unlock()
		// Readers go first so that the writer's close, the last one, can
		// checkpoint and remove the WAL.
		rerr := s.rdb.Close()
		_, err := s.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		s.closeErr = errors.Join(rerr, err, s.db.Close())
	})
	return s.closeErr
}

func (s *Store) isClosed() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}
