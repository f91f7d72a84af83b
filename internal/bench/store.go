package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"kserver.dev/kserver/internal/store"
	"kserver.dev/kserver/internal/store/sqlite"
)

// openStore opens a store for a benchmark, with automatic compaction off
// so that the benchmark decides when compaction runs.
func openStore(ctx context.Context, env *Env, path string) (*sqlite.Store, error) {
	cfg := sqlite.DefaultConfig(path)
	cfg.CompactInterval = -1
	cfg.Logger = env.Logger
	return sqlite.Open(ctx, cfg)
}

// tempStore opens a store in a fresh folder under env.Dir; cleanup closes
// it and removes the folder.
func tempStore(ctx context.Context, env *Env, name string) (*sqlite.Store, func(), error) {
	dir, err := os.MkdirTemp(env.Dir, name+"-")
	if err != nil {
		return nil, nil, err
	}
	s, err := openStore(ctx, env, dir+"/state.db")
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }, nil
}

func payload(n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = 'a' + byte(i%26)
	}
	return v
}

func d1() Benchmark {
	const writes, rate, size = 200, 30, 2048
	return Benchmark{
		ID:    "D1",
		Title: "Single-write latency at low load",
		Method: fmt.Sprintf("One client creates %d keys of %d bytes (a ConfigMap-sized value) at %d writes/s, twice: on a\n"+
			"fresh store (after 10 warm-up writes), where every commit also grows the WAL file, and again once the\n"+
			"store has run (5,000 updates and a checkpoint later, so the WAL is rewound and commits overwrite it, as\n"+
			"in a server that has been up for a while). Latency is from the call to the acknowledgement, which\n"+
			"includes the fsync of the WAL. p50 and p99 per run. `bin/kbench --only D1`", writes, size, rate),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			s, cleanup, err := tempStore(ctx, env, "d1")
			if err != nil {
				return nil, err
			}
			defer cleanup()
			value := payload(size)
			for i := range 10 {
				if _, err := s.Create(ctx, fmt.Sprintf("/registry/configmaps/warm/c%d", i), value, store.WriteOptions{}); err != nil {
					return nil, err
				}
			}
			fresh, err := pacedCreates(ctx, s, "fresh", writes, rate, value)
			if err != nil {
				return nil, err
			}
			for range 5000 {
				if _, err := s.Update(ctx, "/registry/configmaps/warm/c0", value, 0, store.WriteOptions{}); err != nil {
					return nil, err
				}
			}
			if err := s.Checkpoint(ctx); err != nil {
				return nil, err
			}
			warm, err := pacedCreates(ctx, s, "warm", writes, rate, value)
			if err != nil {
				return nil, err
			}
			return []Sample{
				{Metric: "create latency p50, fresh store", Value: percentile(fresh, 50), Unit: "ms", Target: Target{"<=", 1}},
				{Metric: "create latency p99, fresh store", Value: percentile(fresh, 99), Unit: "ms", Target: Target{"<=", 5}},
				{Metric: "create latency p50, store that has run", Value: percentile(warm, 50), Unit: "ms", Target: Target{"<=", 1}},
				{Metric: "create latency p99, store that has run", Value: percentile(warm, 99), Unit: "ms", Target: Target{"<=", 5}},
			}, nil
		},
	}
}

// pacedCreates creates n keys at rate per second and returns the sorted
// latencies.
func pacedCreates(ctx context.Context, s *sqlite.Store, name string, n, rate int, value []byte) ([]time.Duration, error) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	lat := make([]time.Duration, 0, n)
	for i := range n {
		<-tick.C
		start := time.Now()
		if _, err := s.Create(ctx, fmt.Sprintf("/registry/configmaps/%s/c%05d", name, i), value, store.WriteOptions{}); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return lat, nil
}

func d2() Benchmark {
	const clients, size = 16, 2048
	const duration = 5 * time.Second
	return Benchmark{
		ID:    "D2",
		Title: "Sustained writes, 16 concurrent clients",
		Method: fmt.Sprintf("%d clients write for %v on a fresh store, each cycling through its own keys: create, update,\n"+
			"update, delete (each update and delete with the expected revision, as the API server sends them),\n"+
			"%d-byte values. Throughput is acknowledged writes per second; latency per write; any error counts.\n"+
			"`bin/kbench --only D2`", clients, duration, size),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			s, cleanup, err := tempStore(ctx, env, "d2")
			if err != nil {
				return nil, err
			}
			defer cleanup()
			value := payload(size)
			var mu sync.Mutex
			var all []time.Duration
			var errs int
			deadline := time.Now().Add(duration)
			start := time.Now()
			var wg sync.WaitGroup
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					lat, nerr := mixClient(ctx, s, c, value, deadline)
					mu.Lock()
					all = append(all, lat...)
					errs += nerr
					mu.Unlock()
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			slices.Sort(all)
			return []Sample{
				{Metric: "throughput", Value: float64(len(all)) / elapsed.Seconds(), Unit: "writes/s", Target: Target{">=", 5000}},
				{Metric: "write latency p99", Value: percentile(all, 99), Unit: "ms", Target: Target{"<=", 20}},
				{Metric: "errors", Value: float64(errs), Unit: "writes", Target: Target{"<=", 0}},
			}, nil
		},
	}
}

// mixClient runs create/update/update/delete cycles until the deadline.
func mixClient(ctx context.Context, s *sqlite.Store, c int, value []byte, deadline time.Time) ([]time.Duration, int) {
	var lat []time.Duration
	errs := 0
	for i := 0; time.Now().Before(deadline); i++ {
		key := fmt.Sprintf("/registry/configmaps/ns%02d/cm-%d", c, i)
		t0 := time.Now()
		kv, err := s.Create(ctx, key, value, store.WriteOptions{})
		lat = append(lat, time.Since(t0))
		for step := 0; step < 3 && err == nil; step++ {
			t0 = time.Now()
			if step < 2 {
				kv, err = s.Update(ctx, key, value, kv.ModRevision, store.WriteOptions{})
			} else {
				_, err = s.Delete(ctx, key, kv.ModRevision)
			}
			lat = append(lat, time.Since(t0))
		}
		if err != nil {
			errs++
		}
	}
	return lat, errs
}
