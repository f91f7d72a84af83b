package registry

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func podColumns() []metav1.TableColumnDefinition {
	return nameColumn().
		add("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.").
		add("Status", "string", "The aggregate status of the containers in this pod.").
		add("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.").
		age().
		wide("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"]).
		wide("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"]).
		wide("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]).
		wide("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"])
}

// podRow is upstream's printPod: READY counts ready regular containers and
// started ready sidecars; STATUS is the most telling reason (init progress,
// waiting/terminated reasons, Terminating); RESTARTS adds "(<age> ago)".
func podRow(obj runtime.Object, now time.Time) ([]any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("print pod: unexpected %T", obj)
	}
	st := podStatusCells(pod)
	restarts := strconv.Itoa(st.restarts)
	if st.restarts != 0 && !st.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", st.restarts, since(st.lastRestart, now))
	}
	podIP := "<none>"
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIPs[0].IP != "" {
		podIP = pod.Status.PodIPs[0].IP
	}
	return []any{
		pod.Name, fmt.Sprintf("%d/%d", st.ready, st.total), st.reason, restarts, ageOf(pod, now),
		podIP, orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), readinessGates(pod),
	}, nil
}

type podCells struct {
	ready, total, restarts int
	reason                 string
	lastRestart            metav1.Time
}

func podStatusCells(pod *corev1.Pod) podCells {
	c := podCells{total: len(pod.Spec.Containers), reason: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		c.reason = pod.Status.Reason
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Reason == corev1.PodReasonSchedulingGated {
			c.reason = corev1.PodReasonSchedulingGated
		}
	}
	sidecar := map[string]bool{}
	for _, ic := range pod.Spec.InitContainers {
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecar[ic.Name] = true
			c.total++
		}
	}
	sidecarRestarts, sidecarLast := 0, metav1.Time{}
	initializing := false
	for i, s := range pod.Status.InitContainerStatuses {
		c.restarts += int(s.RestartCount)
		c.lastRestart = later(c.lastRestart, s.LastTerminationState.Terminated)
		if sidecar[s.Name] {
			sidecarRestarts += int(s.RestartCount)
			sidecarLast = later(sidecarLast, s.LastTerminationState.Terminated)
		}
		switch t, w := s.State.Terminated, s.State.Waiting; {
		case t != nil && t.ExitCode == 0:
			continue
		case sidecar[s.Name] && s.Started != nil && *s.Started:
			if s.Ready {
				c.ready++
			}
			continue
		case t != nil:
			c.reason = "Init:" + terminatedReason(t)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			c.reason = "Init:" + w.Reason
		default:
			c.reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}
	if !initializing || podCondition(pod, corev1.PodInitialized) {
		c.restarts, c.lastRestart = sidecarRestarts, sidecarLast
		running := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			s := pod.Status.ContainerStatuses[i]
			c.restarts += int(s.RestartCount)
			c.lastRestart = later(c.lastRestart, s.LastTerminationState.Terminated)
			switch t, w := s.State.Terminated, s.State.Waiting; {
			case w != nil && w.Reason != "":
				c.reason = w.Reason
			case t != nil:
				c.reason = terminatedReason(t)
			case s.Ready && s.State.Running != nil:
				running = true
				c.ready++
			}
		}
		if c.reason == "Completed" && running {
			c.reason = "NotReady"
			if podCondition(pod, corev1.PodReady) {
				c.reason = "Running"
			}
		}
	}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if pod.DeletionTimestamp != nil && pod.Status.Reason == "NodeLost" {
		c.reason = "Unknown"
	} else if pod.DeletionTimestamp != nil && !terminal {
		c.reason = "Terminating"
	}
	return c
}

// terminatedReason is the reason, or Signal:<n> / ExitCode:<n> without one
// (the caller adds "Init:" for init containers).
func terminatedReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

func later(cur metav1.Time, t *corev1.ContainerStateTerminated) metav1.Time {
	if t != nil && cur.Before(&t.FinishedAt) {
		return t.FinishedAt
	}
	return cur
}

func podCondition(pod *corev1.Pod, typ corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	trueCount := 0
	for _, g := range pod.Spec.ReadinessGates {
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType {
				if c.Status == corev1.ConditionTrue {
					trueCount++
				}
				break
			}
		}
	}
	return fmt.Sprintf("%d/%d", trueCount, len(pod.Spec.ReadinessGates))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
