package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// retryMount is when a pod whose volumes could not all be made is tried
// again (object changes retry it sooner).
const retryMount = 2 * time.Second

// volumesStep prepares the pod's volumes on the host through Volumes and
// keeps their host paths for the containers' mounts, and writes the pod's
// /etc/hosts once it has its addresses. Setup runs on every sync, so it
// must be idempotent; that is where configMap, secret, downwardAPI and
// projected volumes get their live updates (the objects they read are
// watched, and a change syncs the pod). Simulated nodes have no Volumes:
// their containers get no mounts.
type volumesStep struct{}

func (volumesStep) name() string { return "volumes" }

func (volumesStep) setup(ctx context.Context, w *podWorker, r *podRun) error {
	a := w.ws.a
	if a.parts.Volumes == nil {
		return nil
	}
	a.objects.register(r.pod)
	vols, err := a.parts.Volumes.Setup(ctx, r.pod, a)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			a.rec.Event(podRef(r.pod, "", false), corev1.EventTypeWarning, reasonFailedMount, line)
		}
		r.after(r.now.Add(retryMount))
		return errIncomplete
	}
	if !vols.Refresh.IsZero() {
		r.after(vols.Refresh)
	}
	w.volumes = vols
	if err := w.writeEtcHosts(r); err != nil {
		return fmt.Errorf("write /etc/hosts of the pod: %w", err)
	}
	return nil
}

// writeEtcHosts writes <pod dir>/etc-hosts, which every container mounts
// at /etc/hosts, when its content changed. It is written in place: a
// rename would leave running containers with the old file. While the
// network attach runs beside the sync it is written without the pod's
// addresses, so that containers created meanwhile mount it; awaitNetwork
// writes it again before any of them runs.
func (w *podWorker) writeEtcHosts(r *podRun) error {
	a := w.ws.a
	if len(w.ips) == 0 && !r.pod.Spec.HostNetwork && w.attach == nil {
		return nil
	}
	ips := make([]string, len(w.ips))
	for i, ip := range w.ips {
		ips[i] = ip.String()
	}
	host, domain := podHostname(r.pod, a.cfg.ClusterDomain)
	if r.pod.Spec.HostNetwork {
		host = a.cfg.Hostname
	}
	want, err := etcHosts(r.pod, ips, host, domain, a.cfg.HostsFile)
	if err != nil {
		return err
	}
	p := filepath.Join(w.volumes.Dir, "etc-hosts")
	if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, want) {
		return nil
	}
	return os.WriteFile(p, want, 0o644)
}

func (volumesStep) teardown(ctx context.Context, w *podWorker, pod *corev1.Pod) error {
	a := w.ws.a
	a.objects.forget(pod.UID)
	a.tokens.forget(pod.UID)
	if a.parts.Volumes == nil {
		return nil
	}
	if err := a.parts.Volumes.Teardown(ctx, pod.UID); err != nil {
		return fmt.Errorf("volumes of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	w.volumes = PodVolumes{}
	return nil
}
