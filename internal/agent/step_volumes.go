package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// volumesStep prepares the pod's volumes on the host through Volumes and
// keeps their host paths for the containers' mounts. Setup runs on every
// sync, so it must be idempotent; that is where configMap and secret
// volumes get their live updates. Simulated nodes have no Volumes: their
// containers get no mounts.
type volumesStep struct{}

func (volumesStep) name() string { return "volumes" }

func (volumesStep) setup(ctx context.Context, w *podWorker, r *podRun) error {
	a := w.ws.a
	if a.parts.Volumes == nil {
		return nil
	}
	paths, err := a.parts.Volumes.Setup(ctx, r.pod)
	if err != nil {
		a.rec.Eventf(podRef(r.pod, "", false), corev1.EventTypeWarning, reasonFailedMount, "%v", err)
		return fmt.Errorf("volumes: %w", err)
	}
	w.volumes = paths
	return nil
}

func (volumesStep) teardown(ctx context.Context, w *podWorker, pod *corev1.Pod) error {
	a := w.ws.a
	if a.parts.Volumes == nil {
		return nil
	}
	if err := a.parts.Volumes.Teardown(ctx, pod.UID); err != nil {
		return fmt.Errorf("volumes of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	w.volumes = nil
	return nil
}
