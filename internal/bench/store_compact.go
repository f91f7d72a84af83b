package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"kserver.dev/kserver/internal/store"
	"kserver.dev/kserver/internal/store/sqlite"
)

func d3() Benchmark {
	const keys, updates, size, probes = 1000, 100_000, 1024, 4
	return Benchmark{
		ID:    "D3",
		Title: "Compaction pause; database and WAL size",
		Method: fmt.Sprintf("A fresh store gets %d keys of %d bytes, then %d updates spread over them by 16 writers\n"+
			"(the WAL file size is sampled every 50 ms throughout: peak WAL). Then %d writers update keys in a closed\n"+
			"loop for 3 s (the baseline window: the longest write there is this machine's own noise) and on while\n"+
			"history up to the current revision is compacted (batches of 100 revisions, then incremental vacuum);\n"+
			"the longest of their writes that overlapped the compaction is the stall. Afterwards the writers stop,\n"+
			"the revisions they added are compacted too, the WAL is checkpointed, and the database file is compared\n"+
			"with the live data (keys + values). `bin/kbench --only D3`", keys, size, updates, probes),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			s, cleanup, err := tempStore(ctx, env, "d3")
			if err != nil {
				return nil, err
			}
			defer cleanup()
			var peakWAL atomic.Int64
			stopSampling := sampleWAL(s, &peakWAL)
			defer stopSampling()
			value := payload(size)
			if err := fillKeys(ctx, s, keys, updates, value); err != nil {
				return nil, err
			}
			stall, baseline, took, err := compactUnderLoad(ctx, s, probes, keys, value)
			if err != nil {
				return nil, err
			}
			// Writers stopped: compact what they wrote meanwhile too, then
			// checkpoint so that the file's size is current.
			if err := s.Compact(ctx, s.CurrentRevision()); err != nil {
				return nil, err
			}
			if err := s.Checkpoint(ctx); err != nil {
				return nil, err
			}
			stopSampling()
			st := s.Stats()
			live := float64(keys * (len(keyName(0)) + size))
			return []Sample{
				{Metric: "longest write during compaction", Value: ms(stall), Unit: "ms", Target: Target{"<=", 50}},
				{Metric: "longest write, same load without compaction", Value: ms(baseline), Unit: "ms"},
				{Metric: fmt.Sprintf("compaction of %dk revisions", updates/1000), Value: took.Seconds(), Unit: "s"},
				{Metric: "database file / live data", Value: float64(st.DBBytes) / live, Unit: "×", Target: Target{"<=", 2}},
				{Metric: "database file after compaction", Value: float64(st.DBBytes) / (1 << 20), Unit: "MiB"},
				{Metric: "peak WAL size", Value: float64(peakWAL.Load()) / (1 << 20), Unit: "MiB", Target: Target{"<=", 64}},
			}, nil
		},
	}
}

func keyName(i int) string { return fmt.Sprintf("/registry/leases/kube-node-lease/node-%04d", i) }

// sampleWAL records the largest WAL file size until stopped.
func sampleWAL(s *sqlite.Store, peak *atomic.Int64) func() {
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if w := s.Stats().WALBytes; w > peak.Load() {
				peak.Store(w)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// fillKeys creates n keys and then applies updates to them from 16 writers.
func fillKeys(ctx context.Context, s *sqlite.Store, n, updates int, value []byte) error {
	for i := range n {
		if _, err := s.Create(ctx, keyName(i), value, store.WriteOptions{}); err != nil {
			return err
		}
	}
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < updates; i += writers {
				if _, err := s.Update(ctx, keyName(i%n), value, 0, store.WriteOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// compactUnderLoad compacts to the current revision while probe writers
// update keys, and returns the longest write that overlapped it, the
// longest write of an equally long window before it (the machine's own
// noise) and how long the compaction took.
func compactUnderLoad(ctx context.Context, s *sqlite.Store, probes, keys int, value []byte) (stall, baseline, took time.Duration, err error) {
	type write struct {
		start time.Time
		lat   time.Duration
	}
	stop := make(chan struct{})
	var mu sync.Mutex
	var writes []write
	var wg sync.WaitGroup
	for p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; ; i += probes {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				_, err := s.Update(ctx, keyName(i%keys), value, 0, store.WriteOptions{})
				d := time.Since(t0)
				if err != nil {
					return
				}
				mu.Lock()
				writes = append(writes, write{t0, d})
				mu.Unlock()
			}
		}()
	}
	probeStart := time.Now()
	time.Sleep(3 * time.Second) // the baseline window (compaction takes about as long)
	cstart := time.Now()
	err = s.Compact(ctx, s.CurrentRevision())
	cend := time.Now()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		return 0, 0, 0, err
	}
	took = cend.Sub(cstart)
	bstart := cstart.Add(-took)
	if bstart.Before(probeStart) {
		bstart = probeStart
	}
	for _, w := range writes {
		end := w.start.Add(w.lat)
		if w.start.Before(cend) && end.After(cstart) {
			stall = max(stall, w.lat)
		} else if !w.start.Before(bstart) && !end.After(cstart) {
			baseline = max(baseline, w.lat)
		}
	}
	return stall, baseline, took, nil
}
