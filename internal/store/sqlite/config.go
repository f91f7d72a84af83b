package sqlite

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// Config tunes the store. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Path of the database file; its folder is created with mode 0700.
	Path string
	// Logger receives the store's rare log lines (compaction, open).
	Logger *slog.Logger

	// CompactInterval is how often history is compacted automatically, as
	// kube-apiserver does: each run compacts up to the revision that was
	// current one interval earlier, so roughly one to two intervals of
	// history stay available. Negative disables automatic compaction.
	CompactInterval time.Duration
	// CompactMinRetain is the number of newest revisions automatic
	// compaction never removes.
	CompactMinRetain int64
	// CompactBatch is the number of revisions compacted per transaction;
	// writers wait for at most one such batch.
	CompactBatch int64

	// HistoryEvents and HistoryBytes bound the in-memory ring of recent
	// events that serves Watch and List at older revisions without SQL.
	// Older (but uncompacted) revisions are read from SQLite.
	HistoryEvents int
	HistoryBytes  int64

	// WatchQueue is how many undelivered events a watcher may hold before
	// it is dropped with store.ErrWatcherTooSlow.
	WatchQueue int

	// MaxBatch caps the writes committed in one transaction.
	MaxBatch int
	// MaxValueBytes rejects larger values with store.ErrValueTooLarge.
	MaxValueBytes int

	// CheckpointBytes: the WAL is checkpointed in the background once
	// about this many bytes were committed since the last checkpoint.
	CheckpointBytes int64
	// CheckpointIdle: after this long without writes, whatever is left in
	// the WAL is checkpointed once (a one-shot timer, armed only by writes).
	CheckpointIdle time.Duration
	// WALLimit is the size the WAL file is truncated to after a checkpoint
	// lets it restart (SQLite's journal_size_limit).
	WALLimit int64
}

// DefaultConfig returns the defaults for a database at path.
func DefaultConfig(path string) Config {
	return Config{
		Path:             path,
		CompactInterval:  5 * time.Minute,
		CompactMinRetain: 1000,
		CompactBatch:     100,
		HistoryEvents:    10000,
		HistoryBytes:     8 << 20,
		WatchQueue:       1000,
		MaxBatch:         512,
		MaxValueBytes:    3 << 20,
		CheckpointBytes:  4 << 20,
		CheckpointIdle:   30 * time.Second,
		WALLimit:         16 << 20,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig(c.Path)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CompactInterval == 0 {
		c.CompactInterval = d.CompactInterval
	}
	if c.CompactMinRetain == 0 {
		c.CompactMinRetain = d.CompactMinRetain
	}
	if c.CompactBatch == 0 {
		c.CompactBatch = d.CompactBatch
	}
	if c.HistoryEvents == 0 {
		c.HistoryEvents = d.HistoryEvents
	}
	if c.HistoryBytes == 0 {
		c.HistoryBytes = d.HistoryBytes
	}
	if c.WatchQueue == 0 {
		c.WatchQueue = d.WatchQueue
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = d.MaxValueBytes
	}
	if c.CheckpointBytes == 0 {
		c.CheckpointBytes = d.CheckpointBytes
	}
	if c.CheckpointIdle == 0 {
		c.CheckpointIdle = d.CheckpointIdle
	}
	if c.WALLimit == 0 {
		c.WALLimit = d.WALLimit
	}
	return c
}

// Validate names the first bad setting.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" || !filepath.IsAbs(c.Path) {
		errs = append(errs, fmt.Errorf("database path %q is not absolute", c.Path))
	}
	if c.CompactMinRetain < 0 || c.CompactBatch < 0 {
		errs = append(errs, errors.New("compaction retain and batch must not be negative"))
	}
	if c.HistoryEvents < 0 || c.HistoryBytes < 0 || c.WatchQueue < 0 || c.MaxBatch < 0 || c.MaxValueBytes < 0 {
		errs = append(errs, errors.New("history, queue and batch limits must not be negative"))
	}
	if c.CheckpointBytes < 0 || c.CheckpointIdle < 0 || c.WALLimit < 0 {
		errs = append(errs, errors.New("checkpoint settings must not be negative"))
	}
	return errors.Join(errs...)
}
