package agent

import (
	"context"
	"errors"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/runtime"
)

// retryAfterError is when a sync that failed is tried again (pod updates
// and runtime events also retry it sooner).
const retryAfterError = 5 * time.Second

// podRun is one sync of one pod: the pod as the informer has it, what the
// runtime reports, and what the sync's actions found out for the status.
type podRun struct {
	pod *corev1.Pod
	now time.Time
	// containers are the current sandbox's containers, oldest first,
	// re-read after every action.
	containers []runtime.ContainerStatus
	// waiting overrides a container's waiting state (CrashLoopBackOff,
	// ErrImagePull, CreateContainerConfigError, …), by container name.
	waiting map[string]*corev1.ContainerStateWaiting
	// readyToStart is true once sandbox and network are up.
	readyToStart bool
	// started is set when this sync started an app container.
	started bool
	// next is the earliest time this pod needs another sync.
	next time.Time
}

// after asks for another sync at t (the earliest of all asks wins).
func (r *podRun) after(t time.Time) {
	if r.next.IsZero() || t.Before(r.next) {
		r.next = t
	}
}

func (r *podRun) wait(name, reason, message string) {
	r.waiting[name] = &corev1.ContainerStateWaiting{Reason: reason, Message: message}
}

// latest returns the newest and the one before of a container's attempts
// in the current sandbox.
func (r *podRun) latest(name string) (cur, prev *runtime.ContainerStatus) {
	for i := range r.containers {
		c := &r.containers[i]
		if c.Name != name {
			continue
		}
		switch {
		case cur == nil || c.Attempt > cur.Attempt:
			prev, cur = cur, c
		case prev == nil || c.Attempt > prev.Attempt:
			prev = c
		}
	}
	return cur, prev
}

// errIncomplete from a step's setup means the pod cannot go further yet
// (an init container runs, an image is backing off); the sync ends there
// and the status says why.
var errIncomplete = errors.New("step incomplete")

// sync brings one pod closer to its desired state and reports its status.
// It returns when it wants to run again, and finished once the pod is gone
// from the API and from the node.
func (w *podWorker) sync(ctx context.Context, pod *corev1.Pod) (next time.Time, finished bool) {
	a := w.ws.a
	if pod == nil {
		w.mu.Lock()
		last := w.lastPod
		w.mu.Unlock()
		if err := w.teardown(ctx, last); err != nil {
			a.log.Warn("pod teardown failed; retrying", "namespace", last.Namespace, "pod", last.Name, "err", err)
			return a.clock.Now().Add(retryAfterError), false
		}
		a.backoff.forget(string(w.uid) + "/")
		a.status.forget(w.uid)
		return time.Time{}, true
	}
	r := &podRun{pod: pod, now: a.clock.Now(), waiting: map[string]*corev1.ContainerStateWaiting{}}
	w.trace.mark(r.now, "queued")
	if w.startTime == nil {
		w.startTime = pod.Status.StartTime
		if w.startTime == nil {
			t := metav1.NewTime(r.now.Truncate(time.Second))
			w.startTime = &t
		}
	}
	if err := w.findSandbox(ctx, r); err != nil {
		a.log.Warn("read pod sandbox", "namespace", pod.Namespace, "pod", pod.Name, "err", err)
		r.after(r.now.Add(retryAfterError))
	}
	if !w.seeded {
		w.seedAttempts(pod)
	}
	deleteNow := false
	switch {
	case pod.DeletionTimestamp != nil || isTerminalPhase(pod.Status.Phase) || w.terminated:
		// terminated stays: the informer may not show our terminal status yet
		deleteNow = w.terminate(ctx, r)
	default:
		w.runSteps(ctx, r)
		if w.finishedForGood(r) { // Never/OnFailure pods whose containers are all done
			deleteNow = w.terminate(ctx, r)
		}
	}
	if err := w.refresh(ctx, r); err != nil {
		r.after(r.now.Add(retryAfterError))
	}
	a.status.set(a, pod, w.apiStatus(r), deleteNow)
	if w.trace != nil && (r.started || deleteNow) {
		now := a.clock.Now()
		w.trace.mark(now, "status")
		w.trace.log(a.log, now, pod.Namespace, pod.Name)
		w.trace = nil
	}
	return r.next, false
}

// runSteps sets up the pod step by step, stopping at the first step that
// is not complete.
func (w *podWorker) runSteps(ctx context.Context, r *podRun) {
	a := w.ws.a
	// An attach started beside this sync ends with it (the status
	// reports its addresses or its failure).
	defer func() { _ = w.awaitNetwork(ctx, r) }()
	for _, s := range podSteps {
		err := s.setup(ctx, w, r)
		w.trace.mark(a.clock.Now(), s.name())
		if errors.Is(err, errIncomplete) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("pod step failed", "step", s.name(), "namespace", r.pod.Namespace, "pod", r.pod.Name, "err", err)
			}
			r.after(r.now.Add(retryAfterError))
			return
		}
	}
}

// teardown undoes every step, last first.
func (w *podWorker) teardown(ctx context.Context, pod *corev1.Pod) error {
	var errs []error
	for i := len(podSteps) - 1; i >= 0; i-- {
		if err := podSteps[i].teardown(ctx, w, pod); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// findSandbox finds the pod's current sandbox: the one this worker made or
// adopted, else the newest of those found at start.
func (w *podWorker) findSandbox(ctx context.Context, r *podRun) error {
	rt := w.ws.a.parts.Runtime
	if w.sandbox == nil && len(w.known) > 0 {
		sort.Slice(w.known, func(i, j int) bool { return w.known[i].Attempt > w.known[j].Attempt })
		newest := w.known[0]
		w.sandbox = &newest
		for _, old := range w.known[1:] { // earlier attempts: only the newest one counts
			_ = w.ws.a.removeSandbox(ctx, old.ID)
		}
		w.known = nil
	}
	if w.sandbox == nil {
		return nil
	}
	st, err := rt.SandboxStatus(ctx, w.sandbox.ID)
	if errors.Is(err, runtime.ErrNotFound) {
		w.sandbox = nil
		return nil
	}
	if err != nil {
		return err
	}
	w.sandbox = &st
	return w.refresh(ctx, r)
}

// refresh re-reads the current sandbox's containers.
func (w *podWorker) refresh(ctx context.Context, r *podRun) error {
	if w.sandbox == nil {
		r.containers = nil
		return nil
	}
	cs, err := w.ws.a.parts.Runtime.ListContainers(ctx, runtime.ContainerFilter{SandboxID: w.sandbox.ID})
	if err != nil {
		return err
	}
	r.containers = cs
	return nil
}

func isTerminalPhase(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

// seedAttempts continues the restart counts the API reports when the
// runtime has none of the pod's containers (the node rebooted, or a
// simulated node's process restarted): the next attempt of a container
// that ran before is its restart count + 1, as the kubelet reads it back
// from the log directory.
func (w *podWorker) seedAttempts(pod *corev1.Pod) {
	w.seeded = true
	if w.sandbox != nil {
		return
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.ContainerID != "" {
				w.attempts[cs.Name] = uint32(cs.RestartCount) + 1
			}
		}
	}
}
