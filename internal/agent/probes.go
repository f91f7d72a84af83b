package agent

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// containerProbes is the probe state of one running container; it starts
// over when the container is replaced.
type containerProbes struct {
	containerID string
	started     bool // the startup probe passed (or there is none)
	ready       bool // the readiness probe passed (or there is none)
	results     map[runtime.ProbeKind]*probeResult
}

type probeResult struct {
	successes, failures int32
	next                time.Time
}

// probeResults are a running container's started and ready flags.
func (w *podWorker) probeResults(c *corev1.Container, cur *runtime.ContainerStatus) (started, ready bool) {
	ps := w.probes[c.Name]
	if ps == nil || ps.containerID != cur.ID {
		return c.StartupProbe == nil, c.StartupProbe == nil && c.ReadinessProbe == nil
	}
	return ps.started, ps.started && ps.ready
}

// started reports whether a container runs and has started.
func (w *podWorker) started(r *podRun, name string) bool {
	cur, _ := r.latest(name)
	if cur == nil || cur.State != runtime.StateRunning {
		return false
	}
	for i := range r.pod.Spec.InitContainers {
		if c := &r.pod.Spec.InitContainers[i]; c.Name == name {
			s, _ := w.probeResults(c, cur)
			return s
		}
	}
	return true
}

// probe runs the container's probes that are due, as the kubelet's prober
// workers: the startup probe until it passes, then liveness and readiness,
// each every periodSeconds after initialDelaySeconds. It returns the
// message of the Killing event when the container must be restarted.
func (w *podWorker) probe(ctx context.Context, r *podRun, c *corev1.Container, cur *runtime.ContainerStatus) string {
	ps := w.probes[c.Name]
	if ps == nil || ps.containerID != cur.ID {
		ps = &containerProbes{containerID: cur.ID, started: c.StartupProbe == nil, ready: c.ReadinessProbe == nil,
			results: map[runtime.ProbeKind]*probeResult{}}
		w.probes[c.Name] = ps
	}
	if !ps.started {
		if ok, done := w.runProbe(ctx, r, c, cur, ps, runtime.ProbeStartup, c.StartupProbe); done {
			if !ok {
				return fmt.Sprintf("Container %s failed startup probe, will be restarted", c.Name)
			}
			ps.started = true
		}
		if !ps.started {
			return ""
		}
	}
	if ok, done := w.runProbe(ctx, r, c, cur, ps, runtime.ProbeLiveness, c.LivenessProbe); done && !ok {
		return fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name)
	}
	if ok, done := w.runProbe(ctx, r, c, cur, ps, runtime.ProbeReadiness, c.ReadinessProbe); done {
		ps.ready = ok
	}
	return ""
}

// runProbe runs one probe if it is due and reports, once the success or
// failure threshold is reached (done), the outcome.
func (w *podWorker) runProbe(ctx context.Context, r *podRun, c *corev1.Container, cur *runtime.ContainerStatus,
	ps *containerProbes, kind runtime.ProbeKind, p *corev1.Probe) (ok, done bool) {
	if p == nil {
		return true, false
	}
	res := ps.results[kind]
	if res == nil {
		res = &probeResult{next: cur.StartedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)}
		ps.results[kind] = res
	}
	if r.now.Before(res.next) {
		r.after(res.next)
		return false, false
	}
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	res.next = r.now.Add(period)
	r.after(res.next)
	passed, output := w.runOne(ctx, r, c, cur, kind, p)
	if passed {
		res.successes, res.failures = res.successes+1, 0
		return true, res.successes >= max(p.SuccessThreshold, 1)
	}
	res.failures, res.successes = res.failures+1, 0
	w.ws.a.rec.Eventf(podRef(r.pod, c.Name, isInitContainer(r.pod, c.Name)), corev1.EventTypeWarning, reasonUnhealthy,
		"%s probe failed: %s", kind, output)
	if res.failures >= max(p.FailureThreshold, 1) {
		res.failures = 0
		return false, true
	}
	return false, false
}

// runOne asks the runtime (simulated containers answer their own probes)
// or the ProbeRunner (real containers). Without either, a probe passes.
func (w *podWorker) runOne(ctx context.Context, r *podRun, c *corev1.Container, cur *runtime.ContainerStatus,
	kind runtime.ProbeKind, p *corev1.Probe) (bool, string) {
	a := w.ws.a
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	if pr, ok := a.parts.Runtime.(runtime.Prober); ok {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		passed, err := pr.Probe(ctx, cur.ID, kind)
		if err != nil {
			return false, err.Error()
		}
		return passed, "the simulated container does not pass its " + string(kind) + " probe"
	}
	if a.parts.Probes == nil {
		return true, ""
	}
	res, err := a.parts.Probes.Probe(ctx, w.target(r, c, cur.ID), p, timeout)
	if err != nil {
		return false, err.Error()
	}
	if res.Warning {
		a.rec.Eventf(podRef(r.pod, c.Name, isInitContainer(r.pod, c.Name)), corev1.EventTypeWarning, reasonProbeWarning,
			"%s probe warning: %s", kind, res.Output)
	}
	return res.OK, res.Output
}

// target is where a container's probes and hooks go: its pod's network
// namespace and first address.
func (w *podWorker) target(r *podRun, c *corev1.Container, id string) ProbeTarget {
	t := ProbeTarget{Pod: r.pod, Container: c, ContainerID: id, PodIP: w.podIP()}
	if w.sandbox != nil {
		t.NetNS = w.sandbox.NetNSPath
	}
	return t
}

// podIP is the pod's first address (the node's for hostNetwork pods).
func (w *podWorker) podIP() netip.Addr {
	if len(w.ips) > 0 {
		return w.ips[0]
	}
	return w.ws.a.cfg.NodeIP
}
