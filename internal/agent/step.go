package agent

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// step is one named stage of a pod's lifecycle (house style §14). setup
// makes the stage true for the pod and returns nil when the next stage may
// run, errIncomplete when the pod must wait here, or an error (retried).
// teardown undoes it once the pod is gone; it is idempotent and pod may be
// a stub carrying only name, namespace and UID (an orphan found at start).
type step interface {
	name() string
	setup(ctx context.Context, w *podWorker, r *podRun) error
	teardown(ctx context.Context, w *podWorker, pod *corev1.Pod) error
}

// podSteps is the lifecycle in order; teardown runs it backwards.
//
//	sandbox          namespaces, hostname, pod cgroup (runtime.CreateSandbox)
//	network          pod addresses (CNI on real nodes, SimNetwork on simulated ones)
//	volumes          emptyDir, configMap, secret, … on the host (Volumes)
//	init containers  one after another, each to success
//	containers       the app containers, restarted per restartPolicy; each
//	                 container's image is ensured just before it is created
var podSteps = []step{sandboxStep{}, networkStep{}, volumesStep{}, initContainersStep{}, containersStep{}}
