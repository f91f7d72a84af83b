package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scraping is lazy: nothing runs while nobody asks for metrics. A request
// reads each node's /stats/summary unless a summary younger than
// metricsFresh is at hand (kubectl top pod then top node cost one scrape).
// The agent reports CPU as a rate since its previous sample, which is the
// API server's previous scrape; when that is missing or older than
// metricsMaxAge the node is read twice, metricsPause apart, so the rate is
// a current one (the first kubectl top after a quiet spell takes that much
// longer). Summaries are dropped metricsForget after the last request, so
// an idle server holds only a timestamp per node.
const (
	metricsFresh      = 10 * time.Second
	metricsMaxAge     = time.Minute
	metricsPause      = time.Second
	metricsForget     = 2 * time.Minute
	metricsTimeout    = 10 * time.Second
	metricsConcurrent = 16
)

// statsSummary is what metrics need of an agent's /stats/summary.
type statsSummary struct {
	Node struct {
		NodeName string       `json:"nodeName"`
		CPU      *statsCPU    `json:"cpu"`
		Memory   *statsMemory `json:"memory"`
	} `json:"node"`
	Pods []struct {
		PodRef struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			UID       string `json:"uid"`
		} `json:"podRef"`
		Containers []struct {
			Name   string       `json:"name"`
			CPU    *statsCPU    `json:"cpu"`
			Memory *statsMemory `json:"memory"`
		} `json:"containers"`
	} `json:"pods"`
}

type statsCPU struct {
	Time           metav1.Time `json:"time"`
	UsageNanoCores *uint64     `json:"usageNanoCores"`
}

type statsMemory struct {
	Time            metav1.Time `json:"time"`
	WorkingSetBytes *uint64     `json:"workingSetBytes"`
}

// scrape is one node's latest summary and the window its rates cover.
type scrape struct {
	sum    *statsSummary
	window time.Duration
}

// metricsCache holds the nodes' latest summaries between requests.
type metricsCache struct {
	mu    sync.Mutex
	nodes map[string]*nodeScrape
	timer *time.Timer
}

type nodeScrape struct {
	mu      sync.Mutex // held while the node is read
	fetched time.Time  // when sum was read (this server's clock)
	cpuAt   time.Time  // the agent's time of that sample
	sum     *statsSummary
	window  time.Duration
}

func newMetricsCache() *metricsCache {
	return &metricsCache{nodes: map[string]*nodeScrape{}}
}

// summaries returns a current summary of each node (missing when its
// agent could not be read), reading the nodes in parallel.
func (m *metricsCache) summaries(ctx context.Context, s *Server, nodes []string) map[string]scrape {
	m.mu.Lock()
	entries := make([]*nodeScrape, len(nodes))
	for i, n := range nodes {
		if m.nodes[n] == nil {
			m.nodes[n] = &nodeScrape{}
		}
		entries[i] = m.nodes[n]
	}
	if m.timer == nil {
		m.timer = time.AfterFunc(metricsForget, m.forget)
	} else {
		m.timer.Reset(metricsForget)
	}
	m.mu.Unlock()

	out := make(map[string]scrape, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, metricsConcurrent)
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			sc := entries[i].refresh(ctx, s, n)
			mu.Lock()
			out[n] = sc
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// refresh reads the node unless its summary is fresh.
func (e *nodeScrape) refresh(ctx context.Context, s *Server, node string) scrape {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if e.sum != nil && now.Sub(e.fetched) < metricsFresh {
		return scrape{sum: e.sum, window: e.window}
	}
	ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	defer cancel()
	cold := e.fetched.IsZero() || now.Sub(e.fetched) > metricsMaxAge
	sum, err := s.fetchSummary(ctx, node)
	prevAt := e.cpuAt
	if err == nil && cold {
		prevAt = summaryTime(sum)
		select {
		case <-time.After(metricsPause):
			sum, err = s.fetchSummary(ctx, node)
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		s.log.Debug("metrics: node not read", "node", node, "err", err)
		return scrape{}
	}
	e.sum, e.fetched, e.cpuAt = sum, time.Now(), summaryTime(sum)
	e.window = 0
	if !prevAt.IsZero() && e.cpuAt.After(prevAt) {
		e.window = e.cpuAt.Sub(prevAt)
	}
	return scrape{sum: e.sum, window: e.window}
}

func summaryTime(s *statsSummary) time.Time {
	if s.Node.CPU != nil {
		return s.Node.CPU.Time.Time
	}
	return time.Time{}
}

// forget drops the summaries once nobody has asked for a while.
func (m *metricsCache) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, e := range m.nodes {
		if !e.mu.TryLock() {
			continue // being read: a request is running, which re-arms the timer
		}
		e.sum = nil
		if time.Since(e.fetched) > metricsForget {
			delete(m.nodes, name)
		}
		e.mu.Unlock()
	}
}

// fetchSummary reads a node's /stats/summary.
func (s *Server) fetchSummary(ctx context.Context, node string) (*statsSummary, error) {
	req, err := s.agentRequest(ctx, http.MethodGet, node, "/stats/summary", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.kubelet.transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("node %s: stats summary: %s: %s", node, resp.Status, b)
	}
	var sum statsSummary
	if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil {
		return nil, fmt.Errorf("node %s: stats summary: %w", node, err)
	}
	return &sum, nil
}
