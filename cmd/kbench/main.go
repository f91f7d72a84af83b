// Command kbench runs kserver's benchmarks (`make bench`): it prints a
// table and writes docs/benchmarks.md with the machine's details and the
// data directory's fsync latency. See internal/bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"kserver.dev/kserver/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbench: "+err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 2 && args[0] == "--crash-child" {
		return bench.CrashChild(ctx, args[1], os.Stdout)
	}
	fs := flag.NewFlagSet("kbench", flag.ContinueOnError)
	out := fs.String("out", "", "write the report to this markdown file (e.g. docs/benchmarks.md)")
	only := fs.String("only", "", "comma-separated benchmark IDs to run (default: all), e.g. D1,D2")
	runs := fs.Int("runs", 3, "runs per benchmark (at least 3 for a report)")
	dir := fs.String("dir", "", "data directory for the benchmark databases (default: a new folder in $TMPDIR)")
	list := fs.Bool("list", false, "list the benchmarks and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	all := bench.Benchmarks()
	if *list {
		for _, b := range all {
			fmt.Printf("%s\t%s\n", b.ID, b.Title)
		}
		return nil
	}
	selected, err := bench.Select(all, *only)
	if err != nil {
		return err
	}
	if *runs < 1 {
		return fmt.Errorf("--runs: %d is not a positive number", *runs)
	}
	if *out != "" && *runs < 3 {
		return fmt.Errorf("--runs: a report needs at least 3 runs per figure, got %d", *runs)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dataDir, cleanup, err := dataDirectory(*dir)
	if err != nil {
		return err
	}
	defer cleanup()
	env := &bench.Env{Dir: dataDir, Exe: exe, Runs: *runs,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}

	m := bench.DescribeMachine(dataDir)
	if m.FsyncP50, m.FsyncP99, err = bench.MeasureFsync(dataDir, 300); err != nil {
		return err
	}
	fmt.Printf("machine: %s, %d cores, %.1f GiB, kernel %s, %s\n", m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.Go)
	fmt.Printf("fsync in %s: p50 %.3f ms, p99 %.3f ms\n\n", dataDir, float64(m.FsyncP50.Microseconds())/1000, float64(m.FsyncP99.Microseconds())/1000)
	figs, fails := bench.RunAll(ctx, env, selected, func(s string) { fmt.Fprintln(os.Stderr, "kbench: "+s) })
	if m.FsyncEndP50, m.FsyncEndP99, err = bench.MeasureFsync(dataDir, 300); err != nil {
		return err
	}
	fmt.Printf("\nfsync after the run: p50 %.3f ms, p99 %.3f ms\n\n", float64(m.FsyncEndP50.Microseconds())/1000, float64(m.FsyncEndP99.Microseconds())/1000)
	bench.PrintTable(os.Stdout, figs, fails)
	if *out != "" {
		if err := bench.WriteMarkdown(*out, m, all, figs, fails); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
		fmt.Printf("\nwrote %s\n", *out)
	}
	if len(fails) > 0 {
		return fmt.Errorf("%d benchmark(s) failed", len(fails))
	}
	return nil
}

// dataDirectory returns the absolute data directory: dir (created 0700)
// or a new temporary folder that cleanup removes.
func dataDirectory(dir string) (string, func(), error) {
	cleanup := func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "kbench-")
		if err != nil {
			return "", nil, err
		}
		dir, cleanup = d, func() { os.RemoveAll(d) }
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return abs, cleanup, nil
}
