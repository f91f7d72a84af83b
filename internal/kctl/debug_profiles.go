package kctl

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// debugStyle is what `kctl debug` makes: an ephemeral container in the
// pod, a copy of the pod, or a pod on a node.
type debugStyle int

const (
	debugEphemeral debugStyle = iota
	debugCopy
	debugNode
)

// keepFlags are the --keep-* flags of a pod copy.
type keepFlags struct {
	labels, annotations, liveness, readiness, startup, initContainers bool
}

// stripCopy removes from a pod copy what the profiles remove unless kept:
// labels, annotations, probes and init containers.
func (k keepFlags) stripCopy(p *corev1.Pod) {
	if !k.labels {
		p.Labels = nil
	}
	if !k.annotations {
		p.Annotations = nil
	}
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		if !k.liveness {
			c.LivenessProbe = nil
		}
		if !k.readiness {
			c.ReadinessProbe = nil
		}
		if !k.startup {
			c.StartupProbe = nil
		}
	}
	if !k.initContainers {
		p.Spec.InitContainers = nil
	}
	if p.Spec.ShareProcessNamespace == nil {
		t := true
		p.Spec.ShareProcessNamespace = &t
	}
}

var debugProfiles = []string{"legacy", "general", "baseline", "restricted", "netadmin", "sysadmin"}

// applyDebugProfile changes the debugging pod the way kubectl's profile of
// that name does: host namespaces and the host's root at /host for node
// debugging, capabilities and security context for the debug container,
// and what a copy keeps.
func applyDebugProfile(profile string, style debugStyle, p *corev1.Pod, container string, keep keepFlags) error {
	sc := func() *corev1.SecurityContext { return debugContainerSecurity(p, container) }
	switch profile {
	case "legacy":
		switch style {
		case debugNode:
			mountHostRoot(p, container)
			useHostNamespaces(p)
		case debugCopy:
			p.Labels = nil
		}
	case "general":
		switch style {
		case debugNode:
			mountHostRoot(p, container)
			setDebugSecurity(p, container, nil)
			useHostNamespaces(p)
		case debugCopy:
			keep.stripCopy(p)
			addCapability(sc(), "SYS_PTRACE")
		case debugEphemeral:
			addCapability(sc(), "SYS_PTRACE")
		}
	case "baseline", "restricted":
		setDebugSecurity(p, container, nil)
		if profile == "restricted" {
			t, f := true, false
			s := sc()
			s.RunAsNonRoot = &t
			s.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
			s.AllowPrivilegeEscalation = &f
			s.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
		}
		if style == debugCopy {
			keep.stripCopy(p)
		}
	case "netadmin":
		addCapability(sc(), "NET_ADMIN")
		addCapability(sc(), "NET_RAW")
		switch style {
		case debugNode:
			useHostNamespaces(p)
		case debugCopy:
			keep.stripCopy(p)
		}
	case "sysadmin":
		t := true
		sc().Privileged = &t
		switch style {
		case debugNode:
			useHostNamespaces(p)
			mountHostRoot(p, container)
		case debugCopy:
			keep.stripCopy(p)
		}
	default:
		return fmt.Errorf("unknown profile: %s", profile)
	}
	return nil
}

// debugContainerSecurity returns the security context of the named
// container (regular, init or ephemeral), creating it when missing.
func debugContainerSecurity(p *corev1.Pod, name string) *corev1.SecurityContext {
	var out *corev1.SecurityContext
	visitDebugContainers(p, name, func(sc **corev1.SecurityContext) {
		if *sc == nil {
			*sc = &corev1.SecurityContext{}
		}
		out = *sc
	})
	if out == nil {
		out = &corev1.SecurityContext{}
	}
	return out
}

func setDebugSecurity(p *corev1.Pod, name string, to *corev1.SecurityContext) {
	visitDebugContainers(p, name, func(sc **corev1.SecurityContext) { *sc = to })
}

func visitDebugContainers(p *corev1.Pod, name string, fn func(**corev1.SecurityContext)) {
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				fn(&list[i].SecurityContext)
				return
			}
		}
	}
	for i := range p.Spec.EphemeralContainers {
		if p.Spec.EphemeralContainers[i].Name == name {
			fn(&p.Spec.EphemeralContainers[i].SecurityContext)
			return
		}
	}
}

func addCapability(sc *corev1.SecurityContext, c corev1.Capability) {
	if sc.Capabilities == nil {
		sc.Capabilities = &corev1.Capabilities{}
	}
	sc.Capabilities.Add = append(sc.Capabilities.Add, c)
}

// mountHostRoot mounts the node's / at /host in the debug container.
func mountHostRoot(p *corev1.Pod, name string) {
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "host-root",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			p.Spec.Containers[i].VolumeMounts = append(p.Spec.Containers[i].VolumeMounts, corev1.VolumeMount{MountPath: "/host", Name: "host-root"})
			return
		}
	}
}

func useHostNamespaces(p *corev1.Pod) {
	p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true
}
