package server

import (
	"context"
	"log/slog"
	"os"
)

// Run runs `kserver server` until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	logger.Info("starting kserver server", "data-dir", cfg.DataDir)
	<-ctx.Done()
	return nil
}
