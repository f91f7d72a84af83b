package sqlite

import (
	"path/filepath"
	"testing"

	"kserver.dev/kserver/internal/store"
	"kserver.dev/kserver/internal/store/storetest"
)

func dataFile(dir string) string { return filepath.Join(dir, "db", "state.db") }

func harness(tune func(*Config)) storetest.Harness {
	const queue = 64
	return storetest.Harness{
		Open: func(t *testing.T, dir string) (store.Backend, error) {
			cfg := DefaultConfig(dataFile(dir))
			cfg.WatchQueue = queue
			cfg.CompactInterval = -1
			if tune != nil {
				tune(&cfg)
			}
			return Open(t.Context(), cfg)
		},
		DataFile:   dataFile,
		WatchQueue: queue,
	}
}

// TestConformance runs the suite with the default in-memory history: every
// revision the tests use is served from memory.
func TestConformance(t *testing.T) {
	storetest.Run(t, harness(nil))
}

// TestConformanceSQLHistory runs the suite with an in-memory history of
// only a few events, so Watch and List at older revisions take the path
// that reads the log from SQLite.
func TestConformanceSQLHistory(t *testing.T) {
	storetest.Run(t, harness(func(c *Config) {
		c.HistoryEvents = 3
		c.CompactBatch = 7
	}))
}
