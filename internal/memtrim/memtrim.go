package memtrim

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Config says when a Trimmer trims.
type Config struct {
	// After is how long after start the first trim runs, once start-up
	// work is done; 0 disables trimming (and the MADV_RANDOM advice).
	After time.Duration
	// Interval is how often the file-backed RSS is checked afterwards; 0
	// means trim only once.
	Interval time.Duration
	// Regrowth is how many bytes the file-backed RSS must have grown since
	// the last trim for a check to trim again.
	Regrowth int64
}

// DefaultConfig trims 5 s after start, then checks every minute and trims
// again when the file-backed RSS grew by 8 MiB.
func DefaultConfig() Config {
	return Config{After: 5 * time.Second, Interval: time.Minute, Regrowth: 8 << 20}
}

// Validate checks the durations and threshold.
func (c Config) Validate() error {
	if c.After < 0 {
		return fmt.Errorf("memory trim delay %s is negative", c.After)
	}
	if c.Interval < 0 {
		return fmt.Errorf("memory trim interval %s is negative", c.Interval)
	}
	if c.Regrowth < 0 {
		return fmt.Errorf("memory trim regrowth %d is negative", c.Regrowth)
	}
	return nil
}

// Result is what one trim did.
type Result struct {
	Mappings   int   // executable mappings advised
	Bytes      int64 // their total size
	RSSBefore  int64 // VmRSS before, bytes
	RSSAfter   int64 // VmRSS right after, bytes
	FileBefore int64 // RssFile before, bytes
	FileAfter  int64 // RssFile right after, bytes
}

// Trimmer trims the process it runs in.
type Trimmer struct {
	cfg    Config
	logger *slog.Logger
}

// New returns a Trimmer; cfg must be valid.
func New(cfg Config, logger *slog.Logger) *Trimmer {
	return &Trimmer{cfg: cfg, logger: logger.With("component", "memtrim")}
}

// Run advises random access at once, trims after cfg.After and then again
// whenever a check finds the file-backed RSS grown by cfg.Regrowth over
// the working set the process had mapped back after the last trim. It
// returns nil when ctx ends. Failures are logged, never fatal: trimming is
// an optimisation.
func (t *Trimmer) Run(ctx context.Context) error {
	if t.cfg.After == 0 {
		return nil
	}
	if err := AdviseRandom(); err != nil {
		t.logger.Debug("random-access advice not applied", "err", err)
	}
	if !sleep(ctx, t.cfg.After) {
		return nil
	}
	if !t.trim() || t.cfg.Interval == 0 {
		return nil
	}
	g := regrowth{threshold: t.cfg.Regrowth}
	for sleep(ctx, t.cfg.Interval) {
		st, err := readStatus()
		if err != nil || !g.check(st.file) {
			continue
		}
		if t.trim() {
			g = regrowth{threshold: t.cfg.Regrowth}
		}
	}
	return nil
}

// regrowth decides at each periodic check whether to trim again. Its
// baseline is the file-backed RSS at the first check after a trim — what
// the idle process has mapped back by then, its working set — not the low
// right after the trim, which every idle process regrows from.
type regrowth struct {
	threshold int64
	baseline  int64
	settled   bool
}

// check takes one reading and reports whether it is threshold above the
// baseline.
func (g *regrowth) check(file int64) bool {
	if !g.settled || file < g.baseline {
		g.baseline, g.settled = file, true
		return false
	}
	return file-g.baseline >= g.threshold
}

// trim runs Trim and logs it; it reports whether the trim ran.
func (t *Trimmer) trim() bool {
	start := time.Now()
	r, err := Trim()
	if err != nil {
		t.logger.Info("memory trim not possible", "err", err)
		return false
	}
	t.logger.Debug("memory trimmed", "mappings", r.Mappings, "took", time.Since(start),
		"rssBeforeKiB", r.RSSBefore>>10, "rssAfterKiB", r.RSSAfter>>10,
		"fileBeforeKiB", r.FileBefore>>10, "fileAfterKiB", r.FileAfter>>10)
	return true
}

// Trim pages out the executable's read-only mappings and returns the Go
// heap's free memory to the system, once.
func Trim() (Result, error) {
	var r Result
	before, err := readStatus()
	if err != nil {
		return r, err
	}
	r.RSSBefore, r.FileBefore = before.rss, before.file
	debug.FreeOSMemory()
	if r.Mappings, r.Bytes, err = pageOut(); err != nil {
		return r, err
	}
	after, err := readStatus()
	if err != nil {
		return r, err
	}
	r.RSSAfter, r.FileAfter = after.rss, after.file
	return r, nil
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
