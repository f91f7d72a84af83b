package describe

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func describePod(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	pod, err := into[corev1.Pod](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", pod.Name)
		w.Write(L0, "Namespace:\t%s\n", pod.Namespace)
		if pod.Spec.Priority != nil {
			w.Write(L0, "Priority:\t%d\n", *pod.Spec.Priority)
		}
		if pod.Spec.PriorityClassName != "" {
			w.Write(L0, "Priority Class Name:\t%s\n", pod.Spec.PriorityClassName)
		}
		if pod.Spec.RuntimeClassName != nil {
			w.Write(L0, "Runtime Class Name:\t%s\n", *pod.Spec.RuntimeClassName)
		}
		if pod.Spec.ServiceAccountName != "" {
			w.Write(L0, "Service Account:\t%s\n", pod.Spec.ServiceAccountName)
		}
		if pod.Spec.NodeName == "" {
			w.Write(L0, "Node:\t<none>\n")
		} else {
			w.Write(L0, "Node:\t%s/%s\n", pod.Spec.NodeName, pod.Status.HostIP)
		}
		if pod.Status.StartTime != nil {
			w.Write(L0, "Start Time:\t%s\n", timeString(*pod.Status.StartTime))
		}
		printLabels(w, "Labels", pod.Labels, L0)
		printAnnotations(w, pod.Annotations, L0)
		if pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			w.Write(L0, "Status:\tTerminating (lasts %s)\n", since(*pod.DeletionTimestamp))
			if pod.DeletionGracePeriodSeconds != nil {
				w.Write(L0, "Termination Grace Period:\t%ds\n", *pod.DeletionGracePeriodSeconds)
			}
		} else {
			w.Write(L0, "Status:\t%s\n", pod.Status.Phase)
		}
		if pod.Status.Reason != "" {
			w.Write(L0, "Reason:\t%s\n", pod.Status.Reason)
		}
		if pod.Status.Message != "" {
			w.Write(L0, "Message:\t%s\n", pod.Status.Message)
		}
		if sc := pod.Spec.SecurityContext; sc != nil && sc.SeccompProfile != nil {
			w.Write(L0, "SeccompProfile:\t%s\n", sc.SeccompProfile.Type)
			if sc.SeccompProfile.LocalhostProfile != nil {
				w.Write(L0, "LocalhostProfile:\t%s\n", *sc.SeccompProfile.LocalhostProfile)
			}
		}
		w.Write(L0, "IP:\t%s\n", pod.Status.PodIP)
		if len(pod.Status.PodIPs) == 0 {
			w.Write(L0, "IPs:\t<none>\n")
		} else {
			w.Write(L0, "IPs:\n")
			for _, ip := range pod.Status.PodIPs {
				w.Write(L1, "IP:\t%s\n", ip.IP)
			}
		}
		if c := controllerOf(pod.OwnerReferences); c != "" {
			w.Write(L0, "Controlled By:\t%s\n", c)
		}
		if pod.Status.NominatedNodeName != "" {
			w.Write(L0, "NominatedNodeName:\t%s\n", pod.Status.NominatedNodeName)
		}
		if pod.Spec.Resources != nil {
			describeResources(w, L0, *pod.Spec.Resources)
		}
		if len(pod.Spec.InitContainers) > 0 {
			describeContainers(w, "Init Containers", pod.Spec.InitContainers, pod.Status.InitContainerStatuses, pod, "")
		}
		describeContainers(w, "Containers", pod.Spec.Containers, pod.Status.ContainerStatuses, pod, "")
		describePodConditions(w, pod)
		describeVolumes(w, pod.Spec.Volumes, "")
		qos := pod.Status.QOSClass
		if qos == "" {
			qos = computeQOS(pod)
		}
		w.Write(L0, "QoS Class:\t%s\n", qos)
		printLabels(w, "Node-Selectors", pod.Spec.NodeSelector, L0)
		printMultiline(w, L0, "Tolerations", tolerationStrings(pod.Spec.Tolerations))
		describeTopology(w, L0, pod.Spec.TopologySpreadConstraints)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describePodConditions(w *prefixWriter, pod *corev1.Pod) {
	if len(pod.Spec.ReadinessGates) > 0 {
		w.Write(L0, "Readiness Gates:\n  Type\tStatus\n")
		for _, g := range pod.Spec.ReadinessGates {
			status := "<none>"
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					status = string(c.Status)
				}
			}
			w.Write(L1, "%v \t%v \n", g.ConditionType, status)
		}
	}
	if len(pod.Status.Conditions) > 0 {
		w.Write(L0, "Conditions:\n  Type\tStatus\n")
		for _, c := range pod.Status.Conditions {
			w.Write(L1, "%v \t%v \n", c.Type, c.Status)
		}
	}
}

func describeTopology(w *prefixWriter, level int, tsc []corev1.TopologySpreadConstraint) {
	if len(tsc) == 0 {
		return
	}
	cs := append([]corev1.TopologySpreadConstraint(nil), tsc...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].TopologyKey < cs[j].TopologyKey })
	var lines []string
	for _, c := range cs {
		s := fmt.Sprintf("%s:%s when max skew %d is exceeded", c.TopologyKey, c.WhenUnsatisfiable, c.MaxSkew)
		if c.LabelSelector != nil {
			s += " for selector " + metav1FormatSelector(c.LabelSelector)
		}
		lines = append(lines, s)
	}
	printMultiline(w, level, "Topology Spread Constraints", lines)
}

// computeQOS derives the QoS class from requests and limits.
func computeQOS(pod *corev1.Pod) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	any := false
	all := append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range all {
		for n, q := range c.Resources.Requests {
			if n == corev1.ResourceCPU || n == corev1.ResourceMemory {
				if !q.IsZero() {
					any = true
					requests[n] = q
				}
			}
		}
		has := map[corev1.ResourceName]bool{}
		for n, q := range c.Resources.Limits {
			if n == corev1.ResourceCPU || n == corev1.ResourceMemory {
				if !q.IsZero() {
					any = true
					limits[n] = q
					has[n] = true
				}
			}
		}
		if !has[corev1.ResourceCPU] || !has[corev1.ResourceMemory] {
			guaranteed = false
		}
		for n, q := range c.Resources.Requests {
			if l, ok := c.Resources.Limits[n]; (n == corev1.ResourceCPU || n == corev1.ResourceMemory) && (!ok || l.Cmp(q) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func describeResources(w *prefixWriter, level int, r corev1.ResourceRequirements) {
	if len(r.Limits) > 0 {
		w.Write(level, "Limits:\n")
		for _, n := range resourceKeys(r.Limits) {
			q := r.Limits[n]
			w.Write(level+1, "%s:\t%s\n", n, q.String())
		}
	}
	if len(r.Requests) > 0 {
		w.Write(level, "Requests:\n")
		for _, n := range resourceKeys(r.Requests) {
			q := r.Requests[n]
			w.Write(level+1, "%s:\t%s\n", n, q.String())
		}
	}
}

func resourceKeys(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
