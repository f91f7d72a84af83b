package bench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Benchmark is one entry of the target table.
type Benchmark struct {
	ID     string // e.g. "D2"; --only selects by it
	Title  string
	Method string // how it is measured, for docs/benchmarks.md
	// Setup, when set, runs once before the runs (e.g. to build a large
	// database) and returns what every run needs.
	Setup func(ctx context.Context, env *Env) (any, error)
	// Run does one run and returns its figures.
	Run func(ctx context.Context, env *Env, setup any) ([]Sample, error)
}

// Sample is one figure from one run.
type Sample struct {
	Metric string  // e.g. "write latency p99"
	Value  float64 // in Unit
	Unit   string  // "ms", "writes/s", "MiB", "×", "writes"
	Target Target
}

// Target is the goal a figure is compared with (its median).
type Target struct {
	Op    string // "<=" or ">="; "" for figures without a target
	Value float64
}

// Met reports whether v meets the target.
func (t Target) Met(v float64) (met, has bool) {
	switch t.Op {
	case "<=":
		return v <= t.Value, true
	case ">=":
		return v >= t.Value, true
	}
	return false, false
}

func (t Target) String(unit string) string {
	if t.Op == "" {
		return "—"
	}
	op := map[string]string{"<=": "≤", ">=": "≥"}[t.Op]
	return fmt.Sprintf("%s %s %s", op, formatValue(t.Value), unit)
}

// Env is what benchmarks share.
type Env struct {
	Dir    string // data directory for databases (its fsync latency is reported)
	Exe    string // this program, for benchmarks that need a child process
	Runs   int
	Logger *slog.Logger
}

// Figure is a metric aggregated over the runs.
type Figure struct {
	ID, Metric, Unit string
	Target           Target
	Values           []float64
	Median, Min, Max float64
}

// Failure records a benchmark that could not run.
type Failure struct {
	ID  string
	Err error
}

// Benchmarks is every benchmark the tool knows, in report order.
func Benchmarks() []Benchmark {
	return []Benchmark{d1(), d2(), d3(), d4(), d1API(), d2API(), a1(), a2(), a3("A3-50", 50, 10), a3("A3-500", 500, 50), f6(), f1API(),
		n1("N1-1K", 1000), n1("N1-10K", 10000), n1("N1-30K", 30000), n2(), n3(), n4(), r1("R1-RUNC", "runc"), r1("R1-CRUN", "crun"), s1(), dns1(), f6Node(), f2(), f2Sim(), c1(), c2(), k1(),
		f6Runc(), f1(), s2("S2", "runc"), s2("S2-CRUN", "crun"), s3()}
}

// Select returns the benchmarks named in only (comma-separated IDs; all
// when empty), or an error naming an unknown ID.
func Select(all []Benchmark, only string) ([]Benchmark, error) {
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	var out []Benchmark
	for _, id := range strings.Split(only, ",") {
		id = strings.ToUpper(strings.TrimSpace(id))
		i := slices.IndexFunc(all, func(b Benchmark) bool { return b.ID == id })
		if i < 0 {
			ids := make([]string, len(all))
			for j, b := range all {
				ids[j] = b.ID
			}
			return nil, fmt.Errorf("--only: unknown benchmark %q (known: %s)", id, strings.Join(ids, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// RunAll runs each benchmark env.Runs times and aggregates its figures.
// A benchmark that fails is reported and the others still run.
func RunAll(ctx context.Context, env *Env, list []Benchmark, progress func(string)) ([]Figure, []Failure) {
	var figs []Figure
	var fails []Failure
	for _, b := range list {
		start := time.Now()
		got, err := runOne(ctx, env, b, progress)
		if err != nil {
			fails = append(fails, Failure{ID: b.ID, Err: err})
			progress(fmt.Sprintf("%s failed: %v", b.ID, err))
			continue
		}
		figs = append(figs, got...)
		progress(fmt.Sprintf("%s done in %.1fs", b.ID, time.Since(start).Seconds()))
	}
	return figs, fails
}

func runOne(ctx context.Context, env *Env, b Benchmark, progress func(string)) ([]Figure, error) {
	var setup any
	if b.Setup != nil {
		progress(fmt.Sprintf("%s: setting up", b.ID))
		var err error
		if setup, err = b.Setup(ctx, env); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		if c, ok := setup.(interface{ Close() error }); ok {
			defer c.Close()
		}
	}
	var figs []Figure
	for run := range env.Runs {
		progress(fmt.Sprintf("%s: run %d of %d", b.ID, run+1, env.Runs))
		samples, err := b.Run(ctx, env, setup)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", run+1, err)
		}
		for _, s := range samples {
			i := slices.IndexFunc(figs, func(f Figure) bool { return f.Metric == s.Metric })
			if i < 0 {
				figs = append(figs, Figure{ID: b.ID, Metric: s.Metric, Unit: s.Unit, Target: s.Target})
				i = len(figs) - 1
			}
			figs[i].Values = append(figs[i].Values, s.Value)
		}
	}
	for i := range figs {
		v := slices.Clone(figs[i].Values)
		slices.Sort(v)
		figs[i].Min, figs[i].Max, figs[i].Median = v[0], v[len(v)-1], median(v)
	}
	return figs, nil
}

// median of sorted values.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// percentile of sorted durations (nearest rank), in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted)) + 0.5)
	i = min(max(i-1, 0), len(sorted)-1)
	return ms(sorted[i])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func formatValue(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
