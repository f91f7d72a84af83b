package agent

import (
	"context"
	"errors"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// sandboxStep makes the pod's sandbox. A sandbox that stopped while the
// pod should run (a crash of the runtime, a reboot) is replaced by a new
// attempt and the containers start again in it, as the kubelet does
// (event SandboxChanged).
type sandboxStep struct{}

func (sandboxStep) name() string { return "sandbox" }

func (sandboxStep) setup(ctx context.Context, w *podWorker, r *podRun) error {
	a := w.ws.a
	rt := a.parts.Runtime
	var attempt uint32
	if sb := w.sandbox; sb != nil && sb.State == runtime.SandboxReady {
		return nil
	}
	if err := a.networkReady(); err != nil && !r.pod.Spec.HostNetwork {
		// As the kubelet: pods on the pod network wait for it.
		a.rec.Eventf(podRef(r.pod, "", false), corev1.EventTypeWarning, reasonNetworkNotReady,
			"network is not ready: container runtime network not ready: %v", err)
		r.after(r.now.Add(retryAfterError))
		return errIncomplete
	}
	if sb := w.sandbox; sb != nil {
		a.rec.Event(podRef(r.pod, "", false), corev1.EventTypeNormal, reasonSandboxChanged,
			"Pod sandbox changed, it will be killed and re-created.")
		w.carryAttempts(r)
		if err := w.detach(ctx, r.pod); err != nil {
			return err
		}
		if err := a.removeSandbox(ctx, sb.ID); err != nil {
			return fmt.Errorf("remove old sandbox: %w", err)
		}
		attempt = sb.Attempt + 1
		w.sandbox, r.containers = nil, nil
	}
	cfg, warnings := a.sandboxConfig(r.pod, attempt)
	for _, wr := range warnings {
		a.rec.Event(podRef(r.pod, "", false), corev1.EventTypeWarning, wr.Reason, wr.Message)
	}
	id, err := rt.CreateSandbox(ctx, cfg)
	if errors.Is(err, runtime.ErrAlreadyExists) { // made by a sync that did not finish
		return w.findAttempt(ctx, r, attempt)
	}
	if err != nil {
		a.rec.Eventf(podRef(r.pod, "", false), corev1.EventTypeWarning, reasonFailedCreatePod,
			"Failed to create pod sandbox: %v", err)
		return fmt.Errorf("create sandbox: %w", err)
	}
	st, err := rt.SandboxStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("sandbox status: %w", err)
	}
	w.sandbox = &st
	w.ws.trackSandbox(id, w.uid)
	return nil
}

// findAttempt adopts an existing sandbox of this pod and attempt.
func (w *podWorker) findAttempt(ctx context.Context, r *podRun, attempt uint32) error {
	all, err := w.ws.a.parts.Runtime.ListSandboxes(ctx)
	if err != nil {
		return err
	}
	for i := range all {
		if all[i].UID == string(r.pod.UID) && all[i].Attempt == attempt {
			w.sandbox = &all[i]
			w.ws.trackSandbox(all[i].ID, w.uid)
			return nil
		}
	}
	return fmt.Errorf("sandbox of attempt %d exists but is not listed", attempt)
}

func (sandboxStep) teardown(ctx context.Context, w *podWorker, pod *corev1.Pod) error {
	a := w.ws.a
	if w.sandbox != nil {
		if err := a.removeSandbox(ctx, w.sandbox.ID); err != nil {
			return fmt.Errorf("remove sandbox of %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		w.sandbox = nil
	}
	if !a.cfg.Simulated { // the pod's logs go with it, as the kubelet removes them
		root := a.cfg.LogRoot
		if root == "" {
			root = runtime.DefaultLogRoot
		}
		if err := os.RemoveAll(runtime.LogDir(root, pod.Namespace, pod.Name, string(pod.UID))); err != nil {
			return fmt.Errorf("remove logs of %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return nil
}

// carryAttempts remembers the next attempt of each container before its
// sandbox goes, so restart counts continue in the new one.
func (w *podWorker) carryAttempts(r *podRun) {
	for _, c := range r.containers {
		if c.Attempt+1 > w.attempts[c.Name] {
			w.attempts[c.Name] = c.Attempt + 1
		}
	}
}
