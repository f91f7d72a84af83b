package main

import (
	"context"
	"log/slog"

	"github.com/spf13/pflag"

	"kserver.dev/kserver/internal/memtrim"
)

// addMemTrimFlag registers --memory-trim-after for a long-running command.
func addMemTrimFlag(f *pflag.FlagSet, cfg *memtrim.Config) {
	f.DurationVar(&cfg.After, "memory-trim-after", cfg.After,
		"after this long, release the memory start-up used once (executable pages, free heap); checked again every minute; 0 disables")
}

// runTrimmed runs run while a memtrim.Trimmer keeps the process's idle
// memory small; the trimmer stops when run returns.
func runTrimmed(ctx context.Context, cfg memtrim.Config, logger *slog.Logger, run func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = memtrim.New(cfg, logger).Run(ctx)
	}()
	err := run(ctx)
	cancel()
	<-done
	return err
}
