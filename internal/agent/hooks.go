package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// Hook runs a lifecycle handler (exec, httpGet or sleep) and words its
// failure as the kubelet's handler runner does.
func (p *HostProber) Hook(ctx context.Context, t ProbeTarget, h *corev1.LifecycleHandler) (string, error) {
	pod := podFullName(t.Pod)
	switch {
	case h.Exec != nil:
		var out bytes.Buffer
		w := &limitedWriter{w: &out, n: maxProbeBody}
		code, err := p.rt.Exec(ctx, t.ContainerID, runtime.ExecOptions{Command: h.Exec.Command, Stdout: w, Stderr: w})
		if err == nil && code != 0 {
			err = fmt.Errorf("command '%s' exited with %d: %s", strings.Join(h.Exec.Command, " "), code, out.String())
		}
		if err != nil {
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q",
				h.Exec.Command, t.Container.Name, pod, err, out.String()), err
		}
		return "", nil
	case h.HTTPGet != nil:
		res, err := p.httpGet(ctx, t, h.HTTPGet, 0, false)
		if err == nil && !res.OK && !strings.HasPrefix(res.Output, "HTTP probe failed") {
			err = errors.New(res.Output)
		}
		if err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v",
				h.HTTPGet.Path, t.Container.Name, pod, err), err
		}
		return "", nil
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
		return "", nil
	}
	err := fmt.Errorf("invalid handler: %v", h)
	return err.Error(), err
}

// reasonPostStartHookError is the waiting reason of a container whose
// postStart hook failed.
const reasonPostStartHookError = "PostStartHookError"

// postStart runs a container's postStart hook right after it started, as
// the kubelet does (the sync waits for it, at most the grace period). A
// failed hook kills the container, which is then restarted per the
// restartPolicy.
func (w *podWorker) postStart(ctx context.Context, r *podRun, c *corev1.Container, init bool, id string) {
	a := w.ws.a
	if a.parts.Probes == nil {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, time.Duration(gracePeriod(r.pod))*time.Second)
	defer cancel()
	msg, err := a.parts.Probes.Hook(hctx, w.target(r, c, id), c.Lifecycle.PostStart)
	if err == nil {
		return
	}
	a.log.Info("postStart hook failed", "namespace", r.pod.Namespace, "pod", r.pod.Name, "container", c.Name, "err", err)
	// The hook's output stays out of the event, as upstream (it may hold secrets).
	a.rec.Event(podRef(r.pod, c.Name, init), corev1.EventTypeWarning, reasonFailedPostStart, "PostStartHook failed")
	if err := w.killContainer(ctx, r.pod, c.Name, init, id, containerGrace(r.pod, c), "FailedPostStartHook"); err != nil {
		a.log.Warn("kill after a failed postStart hook", "container", c.Name, "err", err)
	}
	_ = w.refresh(ctx, r)
	r.wait(c.Name, reasonPostStartHookError, msg)
}

// preStop runs a container's preStop hook before it is stopped, within
// the grace period, and returns how much of the grace period is left
// (at least the minimum).
func (w *podWorker) preStop(ctx context.Context, pod *corev1.Pod, name string, init bool, id string, grace int64) int64 {
	a := w.ws.a
	c := specContainer(pod, name)
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil || a.parts.Probes == nil {
		return grace
	}
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second)
	defer cancel()
	t := ProbeTarget{Pod: pod, Container: c, ContainerID: id, PodIP: w.podIP()}
	if w.sandbox != nil {
		t.NetNS = w.sandbox.NetNSPath
	}
	if msg, err := a.parts.Probes.Hook(hctx, t, c.Lifecycle.PreStop); err != nil {
		a.rec.Event(podRef(pod, name, init), corev1.EventTypeWarning, reasonFailedPreStop, msg)
	}
	left := grace - int64(time.Since(start)/time.Second)
	return max(left, minimumGracePeriod)
}

// specContainer finds a container (init or app) of the pod's spec.
func specContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
