package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

func d1API() Benchmark {
	const writes, rate = 150, 30
	return Benchmark{
		ID:    "D1-API",
		Title: "Create latency at low load through HTTPS",
		Method: fmt.Sprintf("One client creates %d ConfigMaps with 2 KiB of data at %d/s through the API server (HTTPS,\n"+
			"HTTP/2, JSON), after 10 warm-up creates; latency to the 201 response, p50 and p99 per run.\n"+
			"`bin/kbench --only D1-API`", writes, rate),
		Setup: func(ctx context.Context, env *Env) (any, error) { return startAPIServer(ctx, env, "") },
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			s := setup.(*apiServer)
			ns := fmt.Sprintf("d1-%d", time.Now().UnixNano())
			if err := createNamespace(ctx, s, ns); err != nil {
				return nil, err
			}
			data := strings.Repeat("x", 2048)
			create := func(name string) (time.Duration, error) {
				body := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q},"data":{"d":%q}}`, name, data)
				start := time.Now()
				code, b, err := s.do(ctx, http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", "application/json", body, false)
				if err == nil && code != http.StatusCreated {
					err = fmt.Errorf("create: HTTP %d: %s", code, b)
				}
				return time.Since(start), err
			}
			for i := range 10 {
				if _, err := create(fmt.Sprintf("warm-%d", i)); err != nil {
					return nil, err
				}
			}
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			lat := make([]time.Duration, 0, writes)
			for i := range writes {
				<-tick.C
				d, err := create(fmt.Sprintf("cm-%05d", i))
				if err != nil {
					return nil, err
				}
				lat = append(lat, d)
			}
			slices.Sort(lat)
			return []Sample{
				{Metric: "create latency p50", Value: percentile(lat, 50), Unit: "ms", Target: Target{"<=", 1}},
				{Metric: "create latency p99", Value: percentile(lat, 99), Unit: "ms", Target: Target{"<=", 5}},
			}, nil
		},
	}
}

func d2API() Benchmark {
	const clients, duration = 16, 5 * time.Second
	return Benchmark{
		ID:    "D2-API",
		Title: "Sustained writes through HTTPS, 16 clients",
		Method: fmt.Sprintf("%d clients each loop create → update → delete of their own ConfigMaps (1 KiB of data) through the\n"+
			"API server for %s (HTTPS, HTTP/2, JSON). Writes/s, p99 latency of each write, and errors.\n"+
			"`bin/kbench --only D2-API`", clients, duration),
		Setup: func(ctx context.Context, env *Env) (any, error) { return startAPIServer(ctx, env, "") },
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			s := setup.(*apiServer)
			ns := fmt.Sprintf("d2-%d", time.Now().UnixNano())
			if err := createNamespace(ctx, s, ns); err != nil {
				return nil, err
			}
			data := strings.Repeat("y", 1024)
			base := "/api/v1/namespaces/" + ns + "/configmaps"
			var mu sync.Mutex
			var lat []time.Duration
			errs := 0
			stop := time.Now().Add(duration)
			var wg sync.WaitGroup
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					bad := 0
					write := func(method, path, ct string, body []byte, want int) {
						start := time.Now()
						code, _, err := s.do(ctx, method, path, ct, body, false)
						mine = append(mine, time.Since(start))
						if err != nil || code != want {
							bad++
						}
					}
					for i := 0; time.Now().Before(stop); i++ {
						name := fmt.Sprintf("c%02d-%06d", c, i)
						obj := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q},"data":{"d":%q}}`, name, data)
						write(http.MethodPost, base, "application/json", obj, http.StatusCreated)
						write(http.MethodPatch, base+"/"+name, "application/merge-patch+json", []byte(`{"data":{"n":"1"}}`), http.StatusOK)
						write(http.MethodDelete, base+"/"+name, "", nil, http.StatusOK)
					}
					mu.Lock()
					lat = append(lat, mine...)
					errs += bad
					mu.Unlock()
				}()
			}
			wg.Wait()
			slices.Sort(lat)
			return []Sample{
				{Metric: "writes/s", Value: float64(len(lat)) / duration.Seconds(), Unit: "writes/s", Target: Target{">=", 5000}},
				{Metric: "write latency p99", Value: percentile(lat, 99), Unit: "ms", Target: Target{"<=", 20}},
				{Metric: "errors", Value: float64(errs), Unit: "writes", Target: Target{"<=", 0}},
			}, nil
		},
	}
}

func f6() Benchmark {
	return Benchmark{
		ID:    "F6",
		Title: "Time to API ready",
		Method: "`kserver server --disable-agent` is started on an empty data directory (first start: CAs,\n" +
			"certificates, database, system namespaces) and again on the same directory; time from the process\n" +
			"start to the first 200 from /readyz over HTTPS, polled every 2 ms. `bin/kbench --only F6`",
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			s, err := startAPIServer(ctx, env, "")
			if err != nil {
				return nil, err
			}
			first := s.ready
			s.stop()
			again, err := startAPIServer(ctx, env, s.dir)
			if err != nil {
				return nil, err
			}
			defer again.Close()
			return []Sample{
				{Metric: "API ready, first start", Value: ms(first), Unit: "ms", Target: Target{"<=", 300}},
				{Metric: "API ready, restart", Value: ms(again.ready), Unit: "ms", Target: Target{"<=", 300}},
			}, nil
		},
	}
}

func f1API() Benchmark {
	const idle = 30 * time.Second // the 5 s memory trim, then periodic work maps code back in
	return Benchmark{
		ID:    "F1-API",
		Title: "Idle RSS of the control plane (API server + datastore, no agent)",
		Method: fmt.Sprintf("`kserver server --disable-agent` on an empty data directory, left idle for %s after /readyz\n"+
			"answers; VmRSS of the process, and its anonymous part (RssAnon: heap, stacks). The rest is pages of\n"+
			"the executable: kserver pages out what start-up used 5 s after start (--memory-trim-after,\n"+
			"docs/footprint.md), so this is what the idle process maps again. (F1 proper adds the embedded agent and\n"+
			"waits 5 minutes.) "+
			"`bin/kbench --only F1-API`", idle),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			s, err := startAPIServer(ctx, env, "")
			if err != nil {
				return nil, err
			}
			defer s.Close()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(idle):
			}
			rss, err := s.procStatus("VmRSS")
			if err != nil {
				return nil, err
			}
			anon, err := s.procStatus("RssAnon")
			if err != nil {
				return nil, err
			}
			return []Sample{
				{Metric: "idle RSS", Value: float64(rss) / 1024, Unit: "MiB", Target: Target{"<=", 50}},
				{Metric: "idle RSS, anonymous only", Value: float64(anon) / 1024, Unit: "MiB"},
			}, nil
		},
	}
}
