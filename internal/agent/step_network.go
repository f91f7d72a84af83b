package agent

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// networkStep gives the pod its addresses. hostNetwork pods use the node's;
// other pods are attached by the Network (CNI on real nodes, SimNetwork on
// simulated ones), which is asked again after an agent restart so that an
// attached sandbox keeps its addresses.
//
// When the runtime can prepare containers (runtime.Preparer) the attach
// runs beside the rest of the sync: volumes, image, container config,
// create and prepare (on runtime/oci the monitor and `<runtime> create`,
// as slow as the CNI plugins) go on while the plugins run, and a
// container is released only once the attach is done (awaitNetwork), so
// its process never runs without its network. A pod whose environment
// names status.podIP(s) waits for the attach here, as before.
type networkStep struct{}

func (networkStep) name() string { return "network" }

func (networkStep) setup(ctx context.Context, w *podWorker, r *podRun) error {
	a := w.ws.a
	if r.pod.Spec.HostNetwork {
		w.ips = []netip.Addr{a.cfg.NodeIP}
		r.readyToStart = true
		return nil
	}
	if len(w.ips) > 0 {
		r.readyToStart = true
		return nil
	}
	if w.attach != nil {
		return nil
	}
	if _, ok := a.parts.Runtime.(runtime.Preparer); ok && !needsPodIP(r.pod) {
		w.attach = w.startAttach(ctx, r.pod, *w.sandbox)
		return nil
	}
	ips, err := a.parts.Network.Attach(ctx, r.pod, *w.sandbox)
	return w.attached(r, ips, err)
}

// attached records the outcome of an attach.
func (w *podWorker) attached(r *podRun, ips []netip.Addr, err error) error {
	if err != nil {
		w.ws.a.rec.Eventf(podRef(r.pod, "", false), corev1.EventTypeWarning, reasonFailedCreatePod,
			"Failed to create pod sandbox: failed to set up the pod network: %v", err)
		return fmt.Errorf("attach pod network: %w", err)
	}
	w.ips = ips
	r.readyToStart = true
	return nil
}

// pendingAttach is an attach running beside the sync that started it; it
// never outlives that sync (runSteps waits for it).
type pendingAttach struct {
	start, end time.Time
	done       chan struct{}
	ips        []netip.Addr
	err        error
}

func (w *podWorker) startAttach(ctx context.Context, pod *corev1.Pod, sb runtime.SandboxStatus) *pendingAttach {
	a := w.ws.a
	p := &pendingAttach{start: a.clock.Now(), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.ips, p.err = a.parts.Network.Attach(ctx, pod, sb)
		p.end = a.clock.Now()
	}()
	return p
}

// awaitNetwork waits for an attach started beside the sync and records
// its outcome: the addresses, the pod's /etc/hosts with them (rewritten
// in place, so containers created meanwhile see it), or the failure
// (event, retry). It returns nil at once when no attach is pending.
func (w *podWorker) awaitNetwork(ctx context.Context, r *podRun) error {
	p := w.attach
	if p == nil {
		return nil
	}
	<-p.done
	w.attach = nil
	a := w.ws.a
	w.trace.markSince(p.start, p.end, "attach")
	w.trace.mark(a.clock.Now(), "attach wait")
	err := w.attached(r, p.ips, p.err)
	if err == nil && w.volumes.Dir != "" {
		if err = w.writeEtcHosts(r); err != nil {
			err = fmt.Errorf("write /etc/hosts of the pod: %w", err)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("pod step failed", "step", "network", "namespace", r.pod.Namespace, "pod", r.pod.Name, "err", err)
		}
		r.after(r.now.Add(retryAfterError))
	}
	return err
}

// needsPodIP reports whether a container's environment names the pod's
// addresses, which must then be known before its config is made.
func needsPodIP(pod *corev1.Pod) bool {
	envs := make([][]corev1.EnvVar, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers)+len(pod.Spec.EphemeralContainers))
	for _, c := range pod.Spec.InitContainers {
		envs = append(envs, c.Env)
	}
	for _, c := range pod.Spec.Containers {
		envs = append(envs, c.Env)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		envs = append(envs, c.Env)
	}
	for _, env := range envs {
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				if p := e.ValueFrom.FieldRef.FieldPath; p == "status.podIP" || p == "status.podIPs" {
					return true
				}
			}
		}
	}
	return false
}

func (networkStep) teardown(ctx context.Context, w *podWorker, pod *corev1.Pod) error {
	return w.detach(ctx, pod)
}

// detach releases the pod's addresses (also when the sandbox is stopped
// for good or replaced).
func (w *podWorker) detach(ctx context.Context, pod *corev1.Pod) error {
	if w.sandbox == nil || pod.Spec.HostNetwork || w.sandbox.HostNetwork || w.sandbox.Labels[labelHostNetwork] == "true" {
		w.ips = nil
		return nil
	}
	if err := w.ws.a.parts.Network.Detach(ctx, pod, *w.sandbox); err != nil {
		return fmt.Errorf("detach pod network of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	w.ips = nil
	return nil
}
