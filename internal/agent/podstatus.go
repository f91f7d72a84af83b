package agent

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/runtime"
)

// Pod condition reasons of the kubelet (pkg/kubelet/status).
const (
	reasonContainersNotReady       = "ContainersNotReady"
	reasonContainersNotInitialized = "ContainersNotInitialized"
	reasonPodCompleted             = "PodCompleted"
	reasonReadinessGatesNotReady   = "ReadinessGatesNotReady"
)

// apiStatus is the pod's status as the kubelet's generateAPIPodStatus
// makes it, from what the runtime reports after this sync's actions.
func (w *podWorker) apiStatus(r *podRun) corev1.PodStatus {
	a := w.ws.a
	pod := r.pod
	old := &pod.Status
	hasInit := len(pod.Spec.InitContainers) > 0
	st := corev1.PodStatus{
		QOSClass: old.QOSClass, NominatedNodeName: old.NominatedNodeName,
		Message: old.Message, Reason: old.Reason,
		HostIP:                a.cfg.NodeIP.String(),
		HostIPs:               []corev1.HostIP{{IP: a.cfg.NodeIP.String()}},
		StartTime:             w.startTime,
		ObservedGeneration:    pod.Generation,
		Resize:                old.Resize,
		ResourceClaimStatuses: old.ResourceClaimStatuses,
	}
	for _, ip := range w.ips {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip.String()})
	}
	if len(st.PodIPs) == 0 && (w.terminated || pod.DeletionTimestamp != nil) {
		st.PodIPs = old.PodIPs // a stopped pod keeps reporting its addresses, as upstream
	}
	if len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	}
	st.InitContainerStatuses = w.containerStatuses(r, pod.Spec.InitContainers, hasInit)
	st.ContainerStatuses = w.containerStatuses(r, pod.Spec.Containers, hasInit)
	st.EphemeralContainerStatuses = w.containerStatuses(r, ephemeralContainers(pod), false)
	for i := range st.EphemeralContainerStatuses {
		st.EphemeralContainerStatuses[i].Ready = false // never ready, as upstream
	}
	terminal := w.killed && pod.DeletionTimestamp != nil
	st.Phase = podPhase(&pod.Spec, st.InitContainerStatuses, st.ContainerStatuses, terminal)
	if isTerminalPhase(old.Phase) { // never leaves a terminal phase
		st.Phase = old.Phase
	}
	st.Conditions = w.podConditions(r, &st)
	return st
}

// containerStatuses reports each container of specs in spec order.
func (w *podWorker) containerStatuses(r *podRun, specs []corev1.Container, hasInit bool) []corev1.ContainerStatus {
	if len(specs) == 0 {
		return nil
	}
	idPrefix := w.ws.a.runtimeInfo.Name + "://"
	defaultReason := waitingContainerCreating
	if hasInit {
		defaultReason = waitingPodInitializing
	}
	out := make([]corev1.ContainerStatus, 0, len(specs))
	for i := range specs {
		c := &specs[i]
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, RestartCount: int32(w.attempts[c.Name]), Started: ptr.To(false)}
		waiting := r.waiting[c.Name]
		if waiting == nil {
			waiting = &corev1.ContainerStateWaiting{Reason: defaultReason}
		}
		cur, prev := r.latest(c.Name)
		if cur == nil {
			s.State.Waiting = waiting
			out = append(out, s)
			continue
		}
		s.Image, s.ImageID, s.ContainerID, s.RestartCount = cur.Image, cur.ImageID, idPrefix+cur.ID, int32(cur.Attempt)
		if prev != nil && prev.State == runtime.StateExited {
			s.LastTerminationState.Terminated = w.terminatedState(prev, idPrefix)
		}
		switch cur.State {
		case runtime.StateCreated:
			if r.waiting[c.Name] == nil {
				waiting = &corev1.ContainerStateWaiting{Reason: waitingContainerCreating}
			}
			s.State.Waiting = waiting
		case runtime.StateRunning:
			s.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.StartedAt.Truncate(time.Second))}
			started, ready := w.probeResults(c, cur)
			s.Started, s.Ready = ptr.To(started), ready
		default:
			if r.waiting[c.Name] != nil { // it will run again: waiting, with this exit as the last state
				s.State.Waiting = r.waiting[c.Name]
				s.LastTerminationState.Terminated = w.terminatedState(cur, idPrefix)
			} else {
				s.State.Terminated = w.terminatedState(cur, idPrefix)
			}
		}
		out = append(out, s)
	}
	return out
}

func (w *podWorker) terminatedState(c *runtime.ContainerStatus, idPrefix string) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{
		ExitCode: c.ExitCode, Reason: c.Reason, Message: w.terminationMessage(c),
		StartedAt:   metav1.NewTime(c.StartedAt.Truncate(time.Second)),
		FinishedAt:  metav1.NewTime(c.FinishedAt.Truncate(time.Second)),
		ContainerID: idPrefix + c.ID,
	}
}

// podPhase is the kubelet's getPhase.
func podPhase(spec *corev1.PodSpec, inits, apps []corev1.ContainerStatus, podIsTerminal bool) corev1.PodPhase {
	pendingInit, failedInit := 0, 0
	for _, c := range spec.InitContainers {
		if isSidecar(&c) {
			continue
		}
		s := findStatus(inits, c.Name)
		switch {
		case s == nil, s.State.Running != nil:
			pendingInit++
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case s.LastTerminationState.Terminated != nil:
			if s.LastTerminationState.Terminated.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for _, c := range spec.Containers {
		s := findStatus(apps, c.Name)
		switch {
		case s == nil:
			unknown++
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			stopped++
		case s.State.Waiting != nil:
			waiting++
		default:
			unknown++
		}
	}
	if failedInit > 0 && spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0, waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if podIsTerminal || spec.RestartPolicy != corev1.RestartPolicyAlways {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			if podIsTerminal || spec.RestartPolicy == corev1.RestartPolicyNever {
				return corev1.PodFailed
			}
		}
		return corev1.PodRunning
	default:
		return corev1.PodPending
	}
}

func findStatus(list []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// podConditions are the kubelet's conditions in its order, with the
// transition times of unchanged ones kept and conditions others own
// (DisruptionTarget, readiness gates, …) left as they are.
func (w *podWorker) podConditions(r *podRun, st *corev1.PodStatus) []corev1.PodCondition {
	pod := r.pod
	sandboxUp := r.readyToStart && !w.terminated
	containersReady := containersReadyCondition(pod, st)
	conds := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: boolCondition(sandboxUp)},
		initializedCondition(pod, st),
		readyCondition(pod, containersReady),
		containersReady,
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
	}
	now := metav1.NewTime(r.now.Truncate(time.Second))
	for i := range conds {
		c := &conds[i]
		c.LastTransitionTime = now
		c.ObservedGeneration = pod.Generation
		// The worker's own last conditions come first: the informer's
		// pod may not show the last write yet, and a time taken anew
		// in the next second would then differ from it and cost writes.
		if o := findCondition(w.conds, c.Type); o != nil && o.Status == c.Status {
			c.LastTransitionTime = o.LastTransitionTime
		} else if o := findCondition(pod.Status.Conditions, c.Type); o != nil && o.Status == c.Status {
			c.LastTransitionTime = o.LastTransitionTime
		}
	}
	w.conds = conds[:len(conds):len(conds)]
	for _, o := range pod.Status.Conditions {
		if !ownedPodCondition(o.Type) {
			conds = append(conds, o)
		}
	}
	return conds
}

func findCondition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func ownedPodCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled:
		return true
	}
	return false
}

func boolCondition(b bool) corev1.ConditionStatus {
	if b {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

// initializedCondition is GeneratePodInitializedCondition.
func initializedCondition(pod *corev1.Pod, st *corev1.PodStatus) corev1.PodCondition {
	c := corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	if len(pod.Spec.InitContainers) == 0 {
		return c
	}
	var unknown, incomplete []string
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		s := findStatus(st.InitContainerStatuses, ic.Name)
		switch {
		case s == nil:
			unknown = append(unknown, ic.Name)
		case isSidecar(ic):
			if s.Started == nil || !*s.Started {
				incomplete = append(incomplete, ic.Name)
			}
		case s.State.Terminated == nil || s.State.Terminated.ExitCode != 0:
			incomplete = append(incomplete, ic.Name)
		}
	}
	if st.Phase == corev1.PodSucceeded && len(unknown) == 0 {
		c.Reason = reasonPodCompleted
		return c
	}
	for _, s := range st.ContainerStatuses { // a regular container has started: initialized before
		if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
			return c
		}
	}
	if msg := statusMessage(unknown, incomplete, "incomplete"); msg != "" {
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, reasonContainersNotInitialized, msg
	}
	return c
}

// containersReadyCondition is GenerateContainersReadyCondition.
func containersReadyCondition(pod *corev1.Pod, st *corev1.PodStatus) corev1.PodCondition {
	c := corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
	if isTerminalPhase(st.Phase) {
		c.Status, c.Reason = corev1.ConditionFalse, reasonPodCompleted
		return c
	}
	var unknown, unready []string
	check := func(name string, list []corev1.ContainerStatus) {
		s := findStatus(list, name)
		switch {
		case s == nil:
			unknown = append(unknown, name)
		case !s.Ready:
			unready = append(unready, name)
		}
	}
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			check(pod.Spec.InitContainers[i].Name, st.InitContainerStatuses)
		}
	}
	for _, ac := range pod.Spec.Containers {
		check(ac.Name, st.ContainerStatuses)
	}
	if msg := statusMessage(unknown, unready, "unready"); msg != "" {
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, reasonContainersNotReady, msg
	}
	return c
}

// readyCondition is GeneratePodReadyCondition: ContainersReady, and every
// readiness gate's condition True.
func readyCondition(pod *corev1.Pod, containersReady corev1.PodCondition) corev1.PodCondition {
	c := containersReady
	c.Type = corev1.PodReady
	if c.Status != corev1.ConditionTrue {
		return c
	}
	var missing, notTrue []string
	for _, g := range pod.Spec.ReadinessGates {
		found := false
		for _, pc := range pod.Status.Conditions {
			if pc.Type == g.ConditionType {
				found = true
				if pc.Status != corev1.ConditionTrue {
					notTrue = append(notTrue, string(g.ConditionType))
				}
			}
		}
		if !found {
			missing = append(missing, string(g.ConditionType))
		}
	}
	switch {
	case len(missing) > 0:
		c.Status, c.Reason = corev1.ConditionFalse, reasonReadinessGatesNotReady
		c.Message = fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", missing[0])
	case len(notTrue) > 0:
		c.Status, c.Reason = corev1.ConditionFalse, reasonReadinessGatesNotReady
		c.Message = fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but False", notTrue[0])
	}
	return c
}

// statusMessage is upstream's "containers with unknown status: [a],
// containers with <what> status: [b]".
func statusMessage(unknown, bad []string, what string) string {
	msg := ""
	if len(unknown) > 0 {
		msg = fmt.Sprintf("containers with unknown status: %s", unknown)
	}
	if len(bad) > 0 {
		if msg != "" {
			msg += ", "
		}
		msg += fmt.Sprintf("containers with %s status: %s", what, bad)
	}
	return msg
}
