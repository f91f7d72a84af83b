package agent

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/runtime"
)

// /stats/summary is the kubelet's resource summary (the JSON of
// k8s.io/kubelet/pkg/apis/stats/v1alpha1, reduced to CPU and memory): the
// node, each running pod and its containers. The API server's metrics.k8s.io
// reads it for kubectl top.
//
// Nothing is sampled in the background. Each request reads the runtime's
// cumulative CPU time and computes usageNanoCores against the previous
// request's sample (kept per container, pod and node, so an idle node holds
// a few dozen bytes per container and spends nothing); a first sample has
// no rate yet. A caller wanting a rate at once asks twice, a second apart,
// as the API server does after a quiet spell.

// Summary is the kubelet's stats summary.
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats is the node's usage.
type NodeStats struct {
	NodeName  string       `json:"nodeName"`
	StartTime metav1.Time  `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
}

// PodStats is one pod's usage and its containers'.
type PodStats struct {
	PodRef     PodReference     `json:"podRef"`
	StartTime  metav1.Time      `json:"startTime"`
	Containers []ContainerStats `json:"containers"`
	CPU        *CPUStats        `json:"cpu,omitempty"`
	Memory     *MemoryStats     `json:"memory,omitempty"`
}

// PodReference names a pod.
type PodReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// ContainerStats is one container's usage.
type ContainerStats struct {
	Name      string       `json:"name"`
	StartTime metav1.Time  `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
}

// CPUStats: usageNanoCores is the rate since the previous sample,
// usageCoreNanoSeconds the cumulative CPU time.
type CPUStats struct {
	Time                 metav1.Time `json:"time"`
	UsageNanoCores       *uint64     `json:"usageNanoCores,omitempty"`
	UsageCoreNanoSeconds *uint64     `json:"usageCoreNanoSeconds,omitempty"`
}

// MemoryStats: workingSetBytes is what kubectl top shows.
type MemoryStats struct {
	Time            metav1.Time `json:"time"`
	AvailableBytes  *uint64     `json:"availableBytes,omitempty"`
	UsageBytes      *uint64     `json:"usageBytes,omitempty"`
	WorkingSetBytes *uint64     `json:"workingSetBytes,omitempty"`
	RSSBytes        *uint64     `json:"rssBytes,omitempty"`
}

// minRateWindow: a sample closer than this to the previous one reports the
// previous rate instead of a noisy new one.
const minRateWindow = 500 * time.Millisecond

// statsCollector samples the runtime on request and keeps the last CPU
// sample of everything it reported.
type statsCollector struct {
	h     streamHost
	start time.Time

	mu   sync.Mutex
	prev map[string]cpuSample
}

type cpuSample struct {
	at      time.Time
	total   uint64
	rate    uint64
	hasRate bool
}

func newStatsCollector(h streamHost) *statsCollector {
	return &statsCollector{h: h, start: time.Now(), prev: map[string]cpuSample{}}
}

func (s *StreamServer) serveStats(w http.ResponseWriter, r *http.Request) {
	sum, err := s.stats.summary(r.Context())
	if err != nil {
		plainError(w, http.StatusInternalServerError, "failed to get stats summary: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&sum)
}

// summary samples every running container of every ready sandbox, the
// sandboxes themselves, and the node.
func (c *statsCollector) summary(ctx context.Context) (Summary, error) {
	rt := c.h.rt
	sbs, err := rt.ListSandboxes(ctx)
	if err != nil {
		return Summary{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]cpuSample{}
	out := Summary{Pods: []PodStats{}}
	var podsCPU, podsMem, podsRate uint64
	rated := true // every container has a rate (an empty node uses nothing)
	for _, sb := range sbs {
		if sb.State != runtime.SandboxReady {
			continue
		}
		ps, ok := c.pod(ctx, sb, seen)
		if !ok {
			continue
		}
		out.Pods = append(out.Pods, ps)
		for _, c := range ps.Containers { // a simulated node uses what its containers use
			podsCPU += *c.CPU.UsageCoreNanoSeconds
			podsMem += *c.Memory.WorkingSetBytes
			if c.CPU.UsageNanoCores != nil {
				podsRate += *c.CPU.UsageNanoCores
			} else {
				rated = false
			}
		}
	}
	now := time.Now()
	out.Node = NodeStats{NodeName: c.h.node, StartTime: metav1.NewTime(c.start)}
	if c.h.simulated {
		out.Node.CPU = &CPUStats{Time: metav1.NewTime(now), UsageCoreNanoSeconds: &podsCPU}
		if rated {
			out.Node.CPU.UsageNanoCores = &podsRate
		}
		out.Node.Memory = &MemoryStats{Time: metav1.NewTime(now), UsageBytes: &podsMem, WorkingSetBytes: &podsMem}
	} else if host, err := hostUsage(); err == nil {
		out.Node.StartTime = metav1.NewTime(host.boot)
		out.Node.CPU = c.cpu("node", host.Usage, seen)
		out.Node.Memory = memory(host.Usage)
		if host.available > 0 {
			out.Node.Memory.AvailableBytes = &host.available
		}
	}
	c.prev = seen
	return out, nil
}

// pod samples a sandbox and its running containers.
func (c *statsCollector) pod(ctx context.Context, sb runtime.SandboxStatus, seen map[string]cpuSample) (PodStats, bool) {
	rt := c.h.rt
	cs, err := rt.ListContainers(ctx, runtime.ContainerFilter{SandboxID: sb.ID, State: runtime.StateRunning})
	if err != nil || len(cs) == 0 {
		return PodStats{}, false
	}
	u, err := rt.SandboxStats(ctx, sb.ID)
	if err != nil {
		return PodStats{}, false
	}
	ps := PodStats{PodRef: PodReference{Name: sb.Name, Namespace: sb.Namespace, UID: sb.UID},
		StartTime: metav1.NewTime(sb.CreatedAt), CPU: c.cpu("p/"+sb.ID, u, seen), Memory: memory(u)}
	for _, ct := range cs {
		cu, err := rt.ContainerStats(ctx, ct.ID)
		if err != nil {
			continue
		}
		ps.Containers = append(ps.Containers, ContainerStats{Name: ct.Name, StartTime: metav1.NewTime(ct.StartedAt),
			CPU: c.cpu("c/"+ct.ID, cu, seen), Memory: memory(cu)})
	}
	return ps, len(ps.Containers) > 0
}

// cpu reports a cumulative sample and its rate since the previous one.
func (c *statsCollector) cpu(key string, u runtime.Usage, seen map[string]cpuSample) *CPUStats {
	at := u.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	total := u.CPUUsageNanos
	st := &CPUStats{Time: metav1.NewTime(at), UsageCoreNanoSeconds: &total}
	p, ok := c.prev[key]
	switch {
	case !ok || total < p.total || !at.After(p.at):
		seen[key] = cpuSample{at: at, total: total}
	case at.Sub(p.at) < minRateWindow:
		seen[key] = p // keep the older sample so the next window is long enough
		if p.hasRate {
			r := p.rate
			st.UsageNanoCores = &r
		}
	default:
		// to the micro-core: finer digits of a rate over seconds are noise
		r := uint64(math.Round(float64(total-p.total)/at.Sub(p.at).Seconds()/1e3)) * 1e3
		seen[key] = cpuSample{at: at, total: total, rate: r, hasRate: true}
		st.UsageNanoCores = &r
	}
	return st
}

func memory(u runtime.Usage) *MemoryStats {
	at := u.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	usage, ws, rss := u.MemoryUsageBytes, u.MemoryWorkingSetBytes, u.MemoryRSSBytes
	return &MemoryStats{Time: metav1.NewTime(at), UsageBytes: &usage, WorkingSetBytes: &ws, RSSBytes: &rss}
}

// hostStats is the machine's own usage (stats_linux.go).
type hostStats struct {
	runtime.Usage
	available uint64
	boot      time.Time
}
