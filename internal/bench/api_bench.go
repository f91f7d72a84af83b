package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// API benchmarks: each runs a real `kserver server --disable-agent` child
// process and talks to it over HTTPS (HTTP/2, admin client certificate).

const benchPods = 10000

func podJSON(ns string, i int) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-%05d","namespace":%q,"labels":{"app":"bench","shard":"s%d"}},`+
		`"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}`, i, ns, i%10)
}

// createMany runs n creates with workers concurrent clients.
func apiCreateMany(ctx context.Context, s *apiServer, n, workers int, path func(i int) string, body func(i int) []byte) error {
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				code, b, err := s.do(ctx, http.MethodPost, path(i), "application/json", body(i), false)
				if err == nil && code != http.StatusCreated {
					err = fmt.Errorf("create %d: HTTP %d: %s", i, code, b)
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

func createNamespace(ctx context.Context, s *apiServer, ns string) error {
	code, b, err := s.do(ctx, http.MethodPost, "/api/v1/namespaces", "application/json",
		fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, ns), false)
	if err == nil && code != http.StatusCreated {
		err = fmt.Errorf("create namespace %s: HTTP %d: %s", ns, code, b)
	}
	return err
}

// podsSetup starts a server holding benchPods pods and waits until it has
// settled (api.go): the pods have no node, so the scheduler writes a
// status and an Event for each of them once, right after they are created.
func podsSetup(ctx context.Context, env *Env) (any, error) {
	s, err := startAPIServer(ctx, env, "")
	if err != nil {
		return nil, err
	}
	if err := createNamespace(ctx, s, "bench"); err != nil {
		s.Close()
		return nil, err
	}
	err = apiCreateMany(ctx, s, benchPods, 16,
		func(int) string { return "/api/v1/namespaces/bench/pods" },
		func(i int) []byte { return podJSON("bench", i) })
	if err == nil {
		s.settled, err = s.settle(ctx, settleWindow)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func a1() Benchmark {
	const gets = 2000
	return Benchmark{
		ID:    "A1",
		Title: "GET latency with 10k pods stored",
		Method: fmt.Sprintf("A server holds %d pods (created over HTTPS by 16 clients; the runs start once the server has\n"+
			"settled: its scheduler's one pass over the new, unschedulable pods — a status write and an Event each — is\n"+
			"over, i.e. its store revision moved by at most %d in each of %d windows of %s in a row; how long that took\n"+
			"is reported). One client GETs %d random pods one after another over one HTTP/2 connection (JSON); latency\n"+
			"per request, p50 and p99 per run. `bin/kbench --only A1`", benchPods, settleWrites, settleWindows, settleWindow, gets),
		Setup: podsSetup,
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			s := setup.(*apiServer)
			lat := make([]time.Duration, 0, gets)
			for range gets {
				path := fmt.Sprintf("/api/v1/namespaces/bench/pods/pod-%05d", rand.IntN(benchPods))
				start := time.Now()
				code, b, err := s.do(ctx, http.MethodGet, path, "", nil, false)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("GET %s: HTTP %d: %s", path, code, b)
				}
				if err != nil {
					return nil, err
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			return []Sample{
				{Metric: "GET p50", Value: percentile(lat, 50), Unit: "ms"},
				{Metric: "GET p99", Value: percentile(lat, 99), Unit: "ms", Target: Target{"<=", 5}},
				{Metric: "server busy after the creates", Value: s.settled.Seconds(), Unit: "s"},
			}, nil
		},
	}
}

func a2() Benchmark {
	const lists = 10
	return Benchmark{
		ID:    "A2",
		Title: "LIST all 10k pods: latency and extra server memory",
		Method: fmt.Sprintf("Same server as A1 (settled). %d LISTs of /api/v1/pods (all namespaces, JSON, gzip-compressed as client-go\n"+
			"and kubectl ask), one at a time; latency to the last decompressed byte, p99 per run. Extra memory: before\n"+
			"each LIST the server's peak RSS is reset (/proc/PID/clear_refs), after it the peak (VmHWM) minus the RSS\n"+
			"before, divided by the (uncompressed) response size; the largest ratio of the run. `bin/kbench --only A2`", lists),
		Setup: podsSetup,
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			s := setup.(*apiServer)
			var lat []time.Duration
			worst, size := 0.0, 0
			for range lists {
				if err := s.resetPeakRSS(); err != nil {
					return nil, err
				}
				before, err := s.procStatus("VmRSS")
				if err != nil {
					return nil, err
				}
				start := time.Now()
				code, b, err := s.do(ctx, http.MethodGet, "/api/v1/pods", "", nil, true)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("LIST: HTTP %d", code)
				}
				if err != nil {
					return nil, err
				}
				lat = append(lat, time.Since(start))
				peak, err := s.procStatus("VmHWM")
				if err != nil {
					return nil, err
				}
				if n := strings.Count(string(b), `"kind":"Pod"`); n != benchPods {
					return nil, fmt.Errorf("LIST returned %d pods, want %d", n, benchPods)
				}
				size = len(b)
				worst = max(worst, float64((peak-before)*1024)/float64(size))
			}
			slices.Sort(lat)
			return []Sample{
				{Metric: "LIST p99", Value: percentile(lat, 99), Unit: "ms", Target: Target{"<=", 300}},
				{Metric: "response size", Value: float64(size) / (1 << 20), Unit: "MiB"},
				{Metric: "extra memory / response size", Value: worst, Unit: "×", Target: Target{"<=", 1.5}},
			}, nil
		},
	}
}
