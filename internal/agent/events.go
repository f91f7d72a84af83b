package agent

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Event reasons the kubelet records (pkg/kubelet/events), spelled as
// upstream so that `kubectl describe` and `kubectl events` read the same.
const (
	reasonStarting        = "Starting"
	reasonCreated         = "Created"
	reasonStarted         = "Started"
	reasonFailed          = "Failed"
	reasonKilling         = "Killing"
	reasonBackOff         = "BackOff"
	reasonUnhealthy       = "Unhealthy"
	reasonFailedCreatePod = "FailedCreatePodSandBox"
	reasonFailedMount     = "FailedMount"
	reasonSandboxChanged  = "SandboxChanged"
	reasonFailedKillPod   = "FailedKillPod"
	reasonNetworkNotReady = "NetworkNotReady"
	reasonInvalidEnvNames = "InvalidEnvironmentVariableNames"
	reasonFailedPostStart = "FailedPostStartHook"
	reasonFailedPreStop   = "FailedPreStopHook"
	reasonProbeWarning    = "ProbeWarning"
)

// Waiting reasons of container statuses.
const (
	waitingContainerCreating = "ContainerCreating"
	waitingPodInitializing   = "PodInitializing"
	waitingCrashLoopBackOff  = "CrashLoopBackOff"
	waitingConfigError       = "CreateContainerConfigError"
	waitingCreateError       = "CreateContainerError"
	waitingRunError          = "RunContainerError"
)

// podRef is the object a pod's events are about; container events add the
// container's field path, as the kubelet's GenerateContainerRef.
func podRef(pod *corev1.Pod, container string, init bool) *corev1.ObjectReference {
	ref := &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		ResourceVersion: pod.ResourceVersion,
	}
	switch {
	case container == "":
	case init:
		ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", container)
	default:
		ref.FieldPath = fmt.Sprintf("spec.containers{%s}", container)
	}
	return ref
}

// podFullName is format.Pod: "<name>_<namespace>(<uid>)".
func podFullName(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
