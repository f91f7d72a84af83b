package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"kserver.dev/kserver/internal/store/sqlite"
)

// Run runs `kserver server` until ctx ends.
func Run(ctx context.Context, cfg Config) (err error) {
	if err := cfg.Validate(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	logger.Info("starting kserver server", "data-dir", cfg.DataDir)

	// The datastore: its folder is created with mode 0700, the file 0600.
	dbCfg := sqlite.DefaultConfig(cfg.DatabasePath())
	dbCfg.Logger = logger
	st, err := sqlite.Open(ctx, dbCfg)
	if err != nil {
		return fmt.Errorf("open datastore: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close datastore: %w", cerr))
		}
	}()
	logger.Info("datastore ready", "path", cfg.DatabasePath(), "rev", st.CurrentRevision())

	<-ctx.Done()
	return nil
}
