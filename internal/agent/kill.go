package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// minimumGracePeriod is the kubelet's minimumGracePeriodInSeconds: a
// container always gets this long to stop.
const minimumGracePeriod = 2

// gracePeriod is how long a pod's containers get to stop: the deletion's
// grace period when the pod is being deleted, else the spec's (30 s by
// default).
func gracePeriod(pod *corev1.Pod) int64 {
	g := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		g = *pod.DeletionGracePeriodSeconds
	}
	return max(g, minimumGracePeriod)
}

// containerGrace is the grace period of a container killed for a failed
// probe: the probe's own terminationGracePeriodSeconds if set.
func containerGrace(pod *corev1.Pod, c *corev1.Container) int64 {
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.StartupProbe} {
		if p != nil && p.TerminationGracePeriodSeconds != nil {
			return max(*p.TerminationGracePeriodSeconds, minimumGracePeriod)
		}
	}
	return gracePeriod(pod)
}

// terminate stops a pod that is being deleted or has finished: its
// running containers with the grace period, then its sandbox, whose
// addresses are released. It reports whether the pod may now be deleted
// from the API (it is being deleted and nothing runs any more).
func (w *podWorker) terminate(ctx context.Context, r *podRun) bool {
	a := w.ws.a
	if !w.killed {
		if err := w.killContainers(ctx, r, gracePeriod(r.pod)); err != nil {
			a.rec.Eventf(podRef(r.pod, "", false), corev1.EventTypeWarning, reasonFailedKillPod, "error killing pod: %v", err)
			r.after(r.now.Add(retryAfterError))
			return false
		}
		w.killed = true
	}
	if !w.terminated && w.sandbox != nil {
		if err := a.parts.Runtime.StopSandbox(ctx, w.sandbox.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			r.after(r.now.Add(retryAfterError))
			return false
		}
		if err := w.detach(ctx, r.pod); err != nil {
			r.after(r.now.Add(retryAfterError))
			return false
		}
		if st, err := a.parts.Runtime.SandboxStatus(ctx, w.sandbox.ID); err == nil {
			w.sandbox = &st
		}
	}
	w.terminated = true
	return r.pod.DeletionTimestamp != nil
}

// killContainers stops every running container of the pod at once (app
// containers and sidecars alike), each with the grace period, and waits.
func (w *podWorker) killContainers(ctx context.Context, r *podRun, grace int64) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(r.containers))
	for _, c := range r.containers {
		if c.State != runtime.StateRunning && c.State != runtime.StateCreated {
			continue
		}
		init := isInitContainer(r.pod, c.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.killContainer(ctx, r.pod, c.Name, init, c.ID, grace, "")
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		if err != nil {
			all = append(all, err)
		}
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	return w.refresh(ctx, r)
}

// killContainer stops one container: event Killing with msg (or
// "Stopping container <name>"), stop signal, SIGKILL after grace.
func (w *podWorker) killContainer(ctx context.Context, pod *corev1.Pod, name string, init bool, id string, grace int64, msg string) error {
	a := w.ws.a
	if msg == "" {
		msg = fmt.Sprintf("Stopping container %s", name)
	}
	a.rec.Event(podRef(pod, name, init), corev1.EventTypeNormal, reasonKilling, msg)
	grace = w.preStop(ctx, pod, name, init, id, grace)
	if err := a.parts.Runtime.StopContainer(ctx, id, time.Duration(grace)*time.Second); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("stop container %s: %w", name, err)
	}
	return nil
}

func isInitContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// finishedForGood reports whether a pod that is not being deleted has
// reached a terminal phase (restartPolicy Never or OnFailure and nothing
// left to run), so its sandbox can be stopped.
func (w *podWorker) finishedForGood(r *podRun) bool {
	if r.pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || w.sandbox == nil {
		return false
	}
	return isTerminalPhase(w.apiStatus(r).Phase)
}
