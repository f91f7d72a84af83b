package agent

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// initContainersStep runs the init containers one after another, each to
// success (a failing one is restarted with back-off unless restartPolicy
// is Never, which fails the pod). Sidecars (init containers with
// restartPolicy Always) are started in their turn and keep running; the
// next one waits until the sidecar has started. Once any app container
// exists the pod counts as initialized, as upstream.
type initContainersStep struct{}

func (initContainersStep) name() string { return "init containers" }

func (initContainersStep) setup(ctx context.Context, w *podWorker, r *podRun) error {
	spec := &r.pod.Spec
	for i := range spec.Containers {
		if cur, _ := r.latest(spec.Containers[i].Name); cur != nil {
			w.syncSidecars(ctx, r)
			return nil
		}
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if isSidecar(c) {
			w.syncContainer(ctx, r, c, true, corev1.RestartPolicyAlways)
			if !w.started(r, c.Name) {
				return errIncomplete
			}
			continue
		}
		if cur, _ := r.latest(c.Name); cur != nil && cur.State == runtime.StateExited && cur.ExitCode == 0 {
			continue
		}
		policy := spec.RestartPolicy
		if policy == corev1.RestartPolicyAlways {
			policy = corev1.RestartPolicyOnFailure
		}
		w.syncContainer(ctx, r, c, true, policy)
		return errIncomplete
	}
	return nil
}

// syncSidecars keeps the sidecars of an initialized pod running.
func (w *podWorker) syncSidecars(ctx context.Context, r *podRun) {
	for i := range r.pod.Spec.InitContainers {
		if c := &r.pod.Spec.InitContainers[i]; isSidecar(c) {
			w.syncContainer(ctx, r, c, true, corev1.RestartPolicyAlways)
		}
	}
}

func (initContainersStep) teardown(context.Context, *podWorker, *corev1.Pod) error { return nil }

// containersStep keeps the app containers as restartPolicy wants them.
type containersStep struct{}

func (containersStep) name() string { return "containers" }

func (containersStep) setup(ctx context.Context, w *podWorker, r *podRun) error {
	for i := range r.pod.Spec.Containers {
		w.syncContainer(ctx, r, &r.pod.Spec.Containers[i], false, r.pod.Spec.RestartPolicy)
	}
	for _, c := range ephemeralContainers(r.pod) {
		// Ephemeral containers (kubectl debug) run once, never restarted.
		w.syncContainer(ctx, r, &c, false, corev1.RestartPolicyNever)
	}
	return nil
}

// ephemeralContainers are the pod's ephemeral containers as containers
// (the same fields; validation keeps ports, probes and resources out).
func ephemeralContainers(pod *corev1.Pod) []corev1.Container {
	out := make([]corev1.Container, len(pod.Spec.EphemeralContainers))
	for i := range pod.Spec.EphemeralContainers {
		out[i] = corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
	}
	return out
}

// teardown stops what still runs with the pod's grace period before the
// sandbox goes (a pod deleted from the API without the agent's graceful
// termination, or an orphan found at start).
func (containersStep) teardown(ctx context.Context, w *podWorker, pod *corev1.Pod) error {
	if w.sandbox == nil {
		return nil
	}
	r := &podRun{pod: pod, now: w.ws.a.clock.Now(), waiting: map[string]*corev1.ContainerStateWaiting{}}
	if err := w.refresh(ctx, r); err != nil {
		return err
	}
	return w.killContainers(ctx, r, gracePeriod(pod))
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// syncContainer does what one container needs now: start it, probe it,
// restart it (with back-off) or leave it.
func (w *podWorker) syncContainer(ctx context.Context, r *podRun, c *corev1.Container, init bool, policy corev1.RestartPolicy) {
	cur, _ := r.latest(c.Name)
	if cur == nil {
		w.startContainer(ctx, r, c, init, w.attempts[c.Name])
		return
	}
	switch cur.State {
	case runtime.StateCreated:
		w.start(ctx, r, c, init, cur.ID)
		return
	case runtime.StateRunning:
		msg := ""
		if cur.Annotations[annotationHash] != containerHash(c) {
			msg = fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)
		} else {
			msg = w.probe(ctx, r, c, cur)
		}
		if msg == "" {
			return
		}
		if err := w.killContainer(ctx, r.pod, c.Name, init, cur.ID, containerGrace(r.pod, c), msg); err != nil {
			r.after(r.now.Add(retryAfterError))
			return
		}
		if err := w.refresh(ctx, r); err != nil {
			return
		}
		if cur, _ = r.latest(c.Name); cur == nil || cur.State != runtime.StateExited {
			return
		}
	}
	if shouldRestart(policy, cur.ExitCode) {
		w.restart(ctx, r, c, init, cur)
	}
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// restart starts the next attempt of an exited container unless it is in
// crash-loop back-off.
func (w *podWorker) restart(ctx context.Context, r *podRun, c *corev1.Container, init bool, cur *runtime.ContainerStatus) {
	a := w.ws.a
	key := string(w.uid) + "/" + c.Name
	if in, delay, until := a.backoff.inBackOff(key, cur.FinishedAt); in {
		r.wait(c.Name, waitingCrashLoopBackOff, fmt.Sprintf("back-off %s restarting failed container=%s pod=%s",
			delay, c.Name, podFullName(r.pod)))
		a.rec.Eventf(podRef(r.pod, c.Name, init), corev1.EventTypeWarning, reasonBackOff,
			"Back-off restarting failed container %s in pod %s", c.Name, podFullName(r.pod))
		r.after(until)
		return
	}
	a.backoff.next(key, cur.FinishedAt)
	for _, old := range r.containers { // keep the last attempt for `logs --previous`
		if old.Name == c.Name && old.Attempt < cur.Attempt {
			_ = a.removeContainer(ctx, &old)
		}
	}
	w.startContainer(ctx, r, c, init, cur.Attempt+1)
}

// startContainer ensures the image, creates and starts one attempt.
func (w *podWorker) startContainer(ctx context.Context, r *podRun, c *corev1.Container, init bool, attempt uint32) {
	a := w.ws.a
	ref := podRef(r.pod, c.Name, init)
	img, ok := w.ensureImage(ctx, r, c, ref)
	if !ok {
		return
	}
	w.trace.mark(a.clock.Now(), "image")
	cfg, err := w.containerConfig(ctx, r, c, attempt, img)
	if err != nil {
		a.rec.Eventf(ref, corev1.EventTypeWarning, reasonFailed, "Error: %v", err)
		r.wait(c.Name, waitingConfigError, err.Error())
		r.after(r.now.Add(retryAfterError))
		return
	}
	w.trace.mark(a.clock.Now(), "config")
	if err := w.prepareRootfs(ctx, r, &cfg, img); err != nil {
		a.rec.Eventf(ref, corev1.EventTypeWarning, reasonFailed, "Error: %v", err)
		r.wait(c.Name, waitingCreateError, err.Error())
		r.after(r.now.Add(retryAfterError))
		return
	}
	w.trace.mark(a.clock.Now(), "rootfs")
	id, err := a.parts.Runtime.CreateContainer(ctx, w.sandbox.ID, cfg)
	w.trace.mark(a.clock.Now(), "create")
	if err != nil {
		a.removeRootfs(&runtime.ContainerStatus{Name: c.Name, Annotations: cfg.Annotations})
		reason := waitingCreateError
		if errors.Is(err, runtime.ErrInvalidConfig) {
			reason = waitingConfigError
		}
		a.rec.Eventf(ref, corev1.EventTypeWarning, reasonFailed, "Error: %v", err)
		r.wait(c.Name, reason, err.Error())
		r.after(r.now.Add(retryAfterError))
		return
	}
	a.rec.Eventf(ref, corev1.EventTypeNormal, reasonCreated, "Created container: %s", c.Name)
	if p, ok := a.parts.Runtime.(runtime.Preparer); ok && w.attach != nil {
		// The slow part of the start runs while the network is attached.
		err := p.PrepareContainer(ctx, id)
		w.trace.mark(a.clock.Now(), "prepare")
		if err != nil {
			_ = w.refresh(ctx, r)
			w.startFailed(r, c, init, err)
			return
		}
	}
	w.start(ctx, r, c, init, id)
}

// startFailed reports a container that could not be started.
func (w *podWorker) startFailed(r *podRun, c *corev1.Container, init bool, err error) {
	w.ws.a.rec.Eventf(podRef(r.pod, c.Name, init), corev1.EventTypeWarning, reasonFailed, "Error: %v", err)
	r.wait(c.Name, waitingRunError, err.Error())
	r.after(r.now.Add(retryAfterError))
}

// start starts a created container once the pod's network is attached.
func (w *podWorker) start(ctx context.Context, r *podRun, c *corev1.Container, init bool, id string) {
	a := w.ws.a
	ref := podRef(r.pod, c.Name, init)
	if err := w.awaitNetwork(ctx, r); err != nil {
		return // stays Created; the next sync attaches and starts it
	}
	err := a.parts.Runtime.StartContainer(ctx, id)
	w.trace.mark(a.clock.Now(), "start")
	_ = w.refresh(ctx, r)
	if err != nil {
		w.startFailed(r, c, init, err)
		return
	}
	a.rec.Eventf(ref, corev1.EventTypeNormal, reasonStarted, "Started container %s", c.Name)
	r.started = r.started || !init
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		w.postStart(ctx, r, c, init, id)
	}
}
