package agent

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// networkStep gives the pod its addresses. hostNetwork pods use the node's;
// other pods are attached by the Network (CNI on real nodes, SimNetwork on
// simulated ones), which is asked again after an agent restart so that an
// attached sandbox keeps its addresses.
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
	ips, err := a.parts.Network.Attach(ctx, r.pod, *w.sandbox)
	if err != nil {
		a.rec.Eventf(podRef(r.pod, "", false), corev1.EventTypeWarning, reasonFailedCreatePod,
			"Failed to create pod sandbox: failed to set up the pod network: %v", err)
		return fmt.Errorf("attach pod network: %w", err)
	}
	w.ips = ips
	r.readyToStart = true
	return nil
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
