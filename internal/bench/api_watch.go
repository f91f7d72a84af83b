package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func a3(id string, watchers int, target float64) Benchmark {
	const writes, rate = 100, 50
	return Benchmark{
		ID:    id,
		Title: fmt.Sprintf("Watch delivery latency, %d watchers", watchers),
		Method: fmt.Sprintf("%d clients watch ConfigMaps of one namespace (HTTP/2 streams on one connection, JSON).\n"+
			"One client creates %d ConfigMaps at %d/s; for every watcher and write, latency is from the write's\n"+
			"acknowledgement to the event's arrival at the watcher (events that arrive before the ack count as 0).\n"+
			"p50 and p99 over all watcher×write pairs per run. `bin/kbench --only %s`", watchers, writes, rate, id),
		Setup: func(ctx context.Context, env *Env) (any, error) {
			s, err := startAPIServer(ctx, env, "")
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			s := setup.(*apiServer)
			return watchRun(ctx, s, watchers, writes, rate)
		},
	}
}

func watchRun(ctx context.Context, s *apiServer, watchers, writes, rate int) ([]Sample, error) {
	ns := fmt.Sprintf("w%d", time.Now().UnixNano())
	if err := createNamespace(ctx, s, ns); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	arrivals := make([][]time.Time, watchers) // [watcher][write]
	total := int64(watchers * writes)
	var got atomic.Int64
	all := make(chan struct{})
	seenOne := func() {
		if got.Add(1) == total {
			close(all)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, watchers)
	started := make(chan struct{}, watchers)
	for w := range watchers {
		arrivals[w] = make([]time.Time, writes)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := watchOne(wctx, s, ns, arrivals[w], started, seenOne); err != nil && wctx.Err() == nil {
				errc <- err
			}
		}()
	}
	for range watchers {
		select {
		case <-started:
		case err := <-errc:
			return nil, err
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("watches not established after 30s")
		}
	}
	acks := make([]time.Time, writes)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range writes {
		<-tick.C
		body := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-%05d"},"data":{"k":"v"}}`, i)
		code, b, err := s.do(ctx, http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", "application/json", body, false)
		if err == nil && code != http.StatusCreated {
			err = fmt.Errorf("create: HTTP %d: %s", code, b)
		}
		if err != nil {
			return nil, err
		}
		acks[i] = time.Now()
	}
	// Wait until every watcher saw every write (or give up after 30 s).
	select {
	case <-all:
	case <-time.After(30 * time.Second):
	}
	cancel()
	wg.Wait()
	var lat []time.Duration
	missing := 0
	for w := range arrivals {
		for i, at := range arrivals[w] {
			if at.IsZero() {
				missing++
				continue
			}
			lat = append(lat, max(at.Sub(acks[i]), 0))
		}
	}
	if missing > 0 {
		return nil, fmt.Errorf("%d of %d events never arrived", missing, watchers*writes)
	}
	slices.Sort(lat)
	return []Sample{
		{Metric: "delivery p50", Value: percentile(lat, 50), Unit: "ms"},
		{Metric: "delivery p99", Value: percentile(lat, 99), Unit: "ms", Target: Target{"<=", targetFor(watchers)}},
	}, nil
}

func targetFor(watchers int) float64 {
	if watchers > 50 {
		return 50
	}
	return 10
}

var nameKey = []byte(`"name":"cm-`)

// watchOne reads one watch stream and stamps the arrival of each
// ConfigMap's ADDED event by its index.
func watchOne(ctx context.Context, s *apiServer, ns string, arrivals []time.Time, started chan<- struct{}, seen func()) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/api/v1/namespaces/"+ns+"/configmaps?watch=true&resourceVersion=0", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("watch: HTTP %d", resp.StatusCode)
	}
	started <- struct{}{}
	r := bufio.NewReaderSize(resp.Body, 64*1024)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		now := time.Now()
		i := bytes.Index(line, nameKey)
		if i < 0 {
			continue
		}
		rest := line[i+len(nameKey):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			continue
		}
		n, err := strconv.Atoi(string(rest[:j]))
		if err == nil && n < len(arrivals) && arrivals[n].IsZero() {
			arrivals[n] = now
			seen()
		}
	}
}
