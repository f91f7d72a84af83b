package describe

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// describeContainers writes a container block. pod is nil inside a pod
// template (no statuses); indent is "" in a pod and " " in a template, where
// the container name line gets one extra space.
func describeContainers(w *prefixWriter, title string, cs []corev1.Container, statuses []corev1.ContainerStatus, pod *corev1.Pod, indent string) {
	level := L0
	if pod == nil {
		level = L1
	}
	if len(cs) == 0 {
		w.Write(level, "%s: <none>\n", title)
		return
	}
	w.Write(level, "%s:\n", title)
	for _, c := range cs {
		var st *corev1.ContainerStatus
		for i := range statuses {
			if statuses[i].Name == c.Name {
				st = &statuses[i]
			}
		}
		w.Write(L1, "%s%s:\n", indent, c.Name)
		if st != nil {
			w.Write(L2, "Container ID:\t%s\n", st.ContainerID)
		}
		w.Write(L2, "Image:\t%s\n", c.Image)
		if st != nil {
			w.Write(L2, "Image ID:\t%s\n", st.ImageID)
		}
		describePorts(w, c.Ports)
		if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
			w.Write(L2, "SeccompProfile:\t%s\n", sc.SeccompProfile.Type)
			if sc.SeccompProfile.LocalhostProfile != nil {
				w.Write(L3, "LocalhostProfile:\t%s\n", *sc.SeccompProfile.LocalhostProfile)
			}
		}
		describeCommand(w, "Command", c.Command)
		describeCommand(w, "Args", c.Args)
		if st != nil {
			describeState(w, "State", st.State)
			if st.LastTerminationState.Terminated != nil {
				describeState(w, "Last State", st.LastTerminationState)
			}
			w.Write(L2, "Ready:\t%s\n", boolText(st.Ready))
			w.Write(L2, "Restart Count:\t%d\n", st.RestartCount)
		}
		describeResources(w, L2, c.Resources)
		probe(w, "Liveness", c.LivenessProbe)
		probe(w, "Readiness", c.ReadinessProbe)
		probe(w, "Startup", c.StartupProbe)
		describeEnv(w, c, pod)
		describeMounts(w, c)
	}
}

func boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func describePorts(w *prefixWriter, ports []corev1.ContainerPort) {
	ps, hps := make([]string, 0, len(ports)), make([]string, 0, len(ports))
	for _, p := range ports {
		s := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
		if p.Name != "" {
			s += " (" + p.Name + ")"
		}
		hs := fmt.Sprintf("%d/%s", p.HostPort, p.Protocol)
		if p.Name != "" {
			hs += " (" + p.Name + ")"
		}
		ps = append(ps, s)
		hps = append(hps, hs)
	}
	label := func(n int, one, many string) string {
		if n > 1 {
			return many
		}
		return one
	}
	w.Write(L2, "%s:\t%s\n", label(len(ps), "Port", "Ports"), joinOrNone(ps, ", "))
	w.Write(L2, "%s:\t%s\n", label(len(hps), "Host Port", "Host Ports"), joinOrNone(hps, ", "))
}

func describeCommand(w *prefixWriter, title string, args []string) {
	if len(args) == 0 {
		return
	}
	w.Write(L2, "%s:\n", title)
	for _, a := range args {
		for _, line := range strings.Split(a, "\n") {
			w.Write(L3, "%s\n", line)
		}
	}
}

func describeState(w *prefixWriter, title string, s corev1.ContainerState) {
	switch {
	case s.Running != nil:
		w.Write(L2, "%s:\tRunning\n", title)
		w.Write(L3, "Started:\t%s\n", timeString(s.Running.StartedAt))
	case s.Waiting != nil:
		w.Write(L2, "%s:\tWaiting\n", title)
		if s.Waiting.Reason != "" {
			w.Write(L3, "Reason:\t%s\n", s.Waiting.Reason)
		}
	case s.Terminated != nil:
		t := s.Terminated
		w.Write(L2, "%s:\tTerminated\n", title)
		if t.Reason != "" {
			w.Write(L3, "Reason:\t%s\n", t.Reason)
		}
		if t.Message != "" {
			w.Write(L3, "Message:\t%s\n", t.Message)
		}
		w.Write(L3, "Exit Code:\t%d\n", t.ExitCode)
		if t.Signal > 0 {
			w.Write(L3, "Signal:\t%d\n", t.Signal)
		}
		w.Write(L3, "Started:\t%s\n", timeString(t.StartedAt))
		w.Write(L3, "Finished:\t%s\n", timeString(t.FinishedAt))
	default:
		w.Write(L2, "%s:\tWaiting\n", title)
	}
}

// probe writes `Liveness:⇥http-get http://:8080/healthz delay=0s ...` in
// kubectl 1.37's form.
func probe(w *prefixWriter, title string, p *corev1.Probe) {
	if p == nil {
		return
	}
	action := "unknown"
	switch {
	case p.Exec != nil:
		action = fmt.Sprintf("exec %v", p.Exec.Command)
	case p.HTTPGet != nil:
		scheme := strings.ToLower(string(p.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		action = fmt.Sprintf("http-get %s://%s:%s%s", scheme, p.HTTPGet.Host, p.HTTPGet.Port.String(), p.HTTPGet.Path)
	case p.TCPSocket != nil:
		action = fmt.Sprintf("tcp-socket %s:%s", p.TCPSocket.Host, p.TCPSocket.Port.String())
	case p.GRPC != nil:
		svc := ""
		if p.GRPC.Service != nil {
			svc = *p.GRPC.Service
		}
		action = fmt.Sprintf("grpc <pod>:%d %s", p.GRPC.Port, svc)
	}
	w.Write(L2, "%s:\t%s delay=%ds timeout=%ds period=%ds successThreshold=%d failureThreshold=%d\n", title, action,
		p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold)
}

func describeEnv(w *prefixWriter, c corev1.Container, pod *corev1.Pod) {
	if len(c.EnvFrom) > 0 {
		w.Write(L2, "Environment Variables from:\n")
		for _, e := range c.EnvFrom {
			kind, name, opt := "", "", false
			switch {
			case e.ConfigMapRef != nil:
				kind, name = "ConfigMap", e.ConfigMapRef.Name
				opt = e.ConfigMapRef.Optional != nil && *e.ConfigMapRef.Optional
			case e.SecretRef != nil:
				kind, name = "Secret", e.SecretRef.Name
				opt = e.SecretRef.Optional != nil && *e.SecretRef.Optional
			}
			if e.Prefix != "" {
				kind += fmt.Sprintf(" with prefix '%s'", e.Prefix)
			}
			w.Write(L3, "%s\t%s\tOptional: %t\n", name, kind, opt)
		}
	}
	if len(c.Env) == 0 {
		w.Write(L2, "Environment:\t<none>\n")
		return
	}
	w.Write(L2, "Environment:\n")
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			for i, line := range strings.Split(e.Value, "\n") {
				if i == 0 {
					w.Write(L3, "%s:\t%s\n", e.Name, line)
				} else {
					w.Write(L3, "\t%s\n", line)
				}
			}
		case e.ValueFrom.FieldRef != nil:
			val := ""
			if pod != nil {
				val = fieldValue(pod, e.ValueFrom.FieldRef.FieldPath)
			}
			w.Write(L3, "%s:\t%s (%s:%s)\n", e.Name, val, e.ValueFrom.FieldRef.APIVersion, e.ValueFrom.FieldRef.FieldPath)
		case e.ValueFrom.ResourceFieldRef != nil:
			w.Write(L3, "%s:\t%s (%s)\n", e.Name, "", e.ValueFrom.ResourceFieldRef.Resource)
		case e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			w.Write(L3, "%s:\t<set to the key '%s' in secret '%s'>\tOptional: %t\n", e.Name, r.Key, r.Name, r.Optional != nil && *r.Optional)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			r := e.ValueFrom.ConfigMapKeyRef
			w.Write(L3, "%s:\t<set to the key '%s' of config map '%s'>\tOptional: %t\n", e.Name, r.Key, r.Name, r.Optional != nil && *r.Optional)
		}
	}
}

func fieldValue(pod *corev1.Pod, path string) string {
	switch path {
	case "metadata.name":
		return pod.Name
	case "metadata.namespace":
		return pod.Namespace
	case "metadata.uid":
		return string(pod.UID)
	case "spec.nodeName":
		return pod.Spec.NodeName
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName
	case "status.hostIP":
		return pod.Status.HostIP
	case "status.podIP":
		return pod.Status.PodIP
	}
	return ""
}

func describeMounts(w *prefixWriter, c corev1.Container) {
	if len(c.VolumeMounts) == 0 {
		w.Write(L2, "Mounts:\t<none>\n")
	} else {
		ms := append([]corev1.VolumeMount(nil), c.VolumeMounts...)
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].MountPath < ms[j].MountPath })
		w.Write(L2, "Mounts:\n")
		for _, m := range ms {
			flags := "rw"
			if m.ReadOnly {
				flags = "ro"
			}
			if m.SubPath != "" {
				flags += fmt.Sprintf(",path=%q", m.SubPath)
			}
			w.Write(L3, "%s from %s (%s)\n", m.MountPath, m.Name, flags)
		}
	}
	if len(c.VolumeDevices) > 0 {
		w.Write(L2, "Devices:\n")
		for _, dv := range c.VolumeDevices {
			w.Write(L3, "%s from %s\n", dv.DevicePath, dv.Name)
		}
	}
}
