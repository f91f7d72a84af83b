package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"kserver.dev/kserver/internal/store"
	"kserver.dev/kserver/internal/store/sqlite"
)

const (
	d4Keys     = 100_000
	d4Size     = 1024
	crashAcks  = 2000
	crashFlag  = "--crash-child"
	ackLineFmt = "ack %d %s\n"
)

// d4Data is the database D4 builds once and restarts from in every run.
type d4Data struct{ dir string }

func (d *d4Data) Close() error { return os.RemoveAll(d.dir) }

func d4() Benchmark {
	return Benchmark{
		ID:    "D4",
		Title: "Crash safety and restart",
		Method: fmt.Sprintf("Setup (once): %d keys of %d bytes written through the store by 16 writers, then closed.\n"+
			"Each run: restart-to-ready is the time of Open on that file (integrity checks, loading the index of\n"+
			"current values and the recent-event ring, TTL heap) until a Get is answered, with the file in the OS\n"+
			"page cache (a process restart, not a reboot); the Go heap it adds is reported per key. Then the crash\n"+
			"check: a child process (`kbench %s PATH`) runs 8 writers and prints every acknowledged write;\n"+
			"after %d acknowledgements it is killed with SIGKILL, the store is reopened and every acknowledged write\n"+
			"must be there at its revision or later. `bin/kbench --only D4`", d4Keys, d4Size, crashFlag, crashAcks),
		Setup: func(ctx context.Context, env *Env) (any, error) {
			dir, err := os.MkdirTemp(env.Dir, "d4-")
			if err != nil {
				return nil, err
			}
			d := &d4Data{dir: dir}
			s, err := openStore(ctx, env, filepath.Join(dir, "state.db"))
			if err != nil {
				d.Close()
				return nil, err
			}
			err = createMany(ctx, s, d4Keys, payload(d4Size))
			if cerr := s.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				d.Close()
				return nil, err
			}
			return d, nil
		},
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			d := setup.(*d4Data)
			ready, cpu, perKey, err := restart(ctx, env, filepath.Join(d.dir, "state.db"))
			if err != nil {
				return nil, err
			}
			acked, lost, err := crashCheck(ctx, env)
			if err != nil {
				return nil, err
			}
			return []Sample{
				{Metric: "restart to ready, 100k keys", Value: ms(ready), Unit: "ms", Target: Target{"<=", 1000}},
				{Metric: "CPU time of that restart", Value: ms(cpu), Unit: "ms"},
				{Metric: "Go heap per key (1 KiB values)", Value: perKey, Unit: "bytes"},
				{Metric: "acknowledged writes before kill -9", Value: float64(acked), Unit: "writes"},
				{Metric: "acknowledged writes lost", Value: float64(lost), Unit: "writes", Target: Target{"<=", 0}},
			}, nil
		},
	}
}

func createMany(ctx context.Context, s *sqlite.Store, n int, value []byte) error {
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				key := fmt.Sprintf("/registry/configmaps/ns%03d/cm-%06d", i%500, i)
				if _, err := s.Create(ctx, key, value, store.WriteOptions{}); err != nil {
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

// restart times Open until the first Get is answered, and the CPU time
// the process spent meanwhile (on a busy machine the wall time includes
// waiting for a core; the CPU time does not).
func restart(ctx context.Context, env *Env, path string) (wall, cpu time.Duration, perKey float64, err error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := processCPU()
	start := time.Now()
	s, err := openStore(ctx, env, path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer s.Close()
	if _, err := s.Get(ctx, "/registry/configmaps/ns000/cm-000000"); err != nil {
		return 0, 0, 0, err
	}
	wall, cpu = time.Since(start), processCPU()-cpu0
	if n := s.Stats().Keys; n != d4Keys {
		return 0, 0, 0, fmt.Errorf("reopened store has %d keys, want %d", n, d4Keys)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return wall, cpu, float64(after.HeapAlloc-before.HeapAlloc) / d4Keys, nil
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// crashCheck runs the crash child, kills it mid-stream and counts the
// acknowledged writes missing after reopening.
func crashCheck(ctx context.Context, env *Env) (acked, lost int, err error) {
	dir, err := os.MkdirTemp(env.Dir, "crash-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "state.db")
	cmd := exec.CommandContext(ctx, env.Exe, crashFlag, path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start crash child: %w", err)
	}
	acks := map[string]int64{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var key string
		var rev int64
		if n, _ := fmt.Sscanf(sc.Text(), "ack %d %s", &rev, &key); n == 2 {
			acks[key] = max(acks[key], rev)
			if len(acks) == crashAcks {
				cmd.Process.Kill() // SIGKILL
			}
		}
	}
	cmd.Wait()
	if len(acks) < crashAcks {
		return len(acks), 0, fmt.Errorf("crash child acknowledged only %d writes before it exited", len(acks))
	}
	s, err := openStore(ctx, env, path)
	if err != nil {
		return len(acks), 0, fmt.Errorf("reopen after kill -9: %w", err)
	}
	defer s.Close()
	for key, rev := range acks {
		if kv, err := s.Get(ctx, key); err != nil || kv.ModRevision < rev {
			lost++
		}
	}
	return len(acks), lost, nil
}

// CrashChild is the writer process of the D4 crash check: 8 writers create
// keys and update one long-lived key each, printing every acknowledged
// write, until the process is killed.
func CrashChild(ctx context.Context, path string, out io.Writer) error {
	cfg := sqlite.DefaultConfig(path)
	s, err := sqlite.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	var mu sync.Mutex
	ack := func(kv store.KeyValue) {
		mu.Lock()
		fmt.Fprintf(out, ackLineFmt, kv.ModRevision, kv.Key)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own, err := s.Create(ctx, fmt.Sprintf("/registry/leases/ns/holder-%d", g), []byte("0"), store.WriteOptions{})
			for i := 0; err == nil; i++ {
				ack(own)
				var kv store.KeyValue
				kv, err = s.Create(ctx, fmt.Sprintf("/registry/configmaps/ns/g%d-%d", g, i), payload(512), store.WriteOptions{})
				if err == nil {
					ack(kv)
					own, err = s.Update(ctx, own.Key, fmt.Append(nil, i), own.ModRevision, store.WriteOptions{})
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
