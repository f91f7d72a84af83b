package agent

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// effectiveSecurity merges the pod's and the container's securityContext
// as upstream's DetermineEffectiveSecurityContext: the container's fields
// win over the pod's where both have them.
func effectiveSecurity(pod *corev1.Pod, c *corev1.Container) *corev1.SecurityContext {
	out := &corev1.SecurityContext{}
	if c.SecurityContext != nil {
		out = c.SecurityContext.DeepCopy()
	}
	psc := pod.Spec.SecurityContext
	if psc == nil {
		return out
	}
	if out.RunAsUser == nil {
		out.RunAsUser = psc.RunAsUser
	}
	if out.RunAsGroup == nil {
		out.RunAsGroup = psc.RunAsGroup
	}
	if out.RunAsNonRoot == nil {
		out.RunAsNonRoot = psc.RunAsNonRoot
	}
	if out.SeccompProfile == nil {
		out.SeccompProfile = psc.SeccompProfile
	}
	return out
}

// containerSecurity is what the runtime needs of a container's effective
// securityContext, its user and groups. seccompRoot holds Localhost
// profiles.
func containerSecurity(pod *corev1.Pod, c *corev1.Container, imageUser, seccompRoot string) (runtime.Security, runtime.User, error) {
	sc := effectiveSecurity(pod, c)
	if err := verifyRunAsNonRoot(pod, c, sc, imageUser); err != nil {
		return runtime.Security{}, runtime.User{}, err
	}
	sec := runtime.Security{
		Privileged:     sc.Privileged != nil && *sc.Privileged,
		ReadOnlyRootfs: sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
		// allowPrivilegeEscalation unset leaves escalation allowed.
		NoNewPrivileges: sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
		RunAsNonRoot:    sc.RunAsNonRoot != nil && *sc.RunAsNonRoot,
		UnmaskedProc:    sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount,
		Seccomp:         runtime.SeccompUnconfined,
	}
	if sec.Privileged {
		sec.NoNewPrivileges = false
	}
	if caps := sc.Capabilities; caps != nil {
		for _, x := range caps.Add {
			sec.CapAdd = append(sec.CapAdd, string(x))
		}
		for _, x := range caps.Drop {
			sec.CapDrop = append(sec.CapDrop, string(x))
		}
	}
	if p := sc.SeccompProfile; p != nil {
		switch p.Type {
		case corev1.SeccompProfileTypeRuntimeDefault:
			sec.Seccomp = runtime.SeccompRuntimeDefault
		case corev1.SeccompProfileTypeLocalhost:
			if p.LocalhostProfile == nil || *p.LocalhostProfile == "" {
				return sec, runtime.User{}, fmt.Errorf("localhost seccomp profile of container %s names no file", c.Name)
			}
			sec.Seccomp = runtime.SeccompLocalhost
			sec.SeccompProfile = filepath.Join(seccompRoot, filepath.Clean("/"+*p.LocalhostProfile))
		}
	}
	user := runtime.User{UID: sc.RunAsUser, GID: sc.RunAsGroup, Name: imageUser}
	if psc := pod.Spec.SecurityContext; psc != nil {
		user.SupplementalGroups = append(user.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			user.SupplementalGroups = append(user.SupplementalGroups, *psc.FSGroup)
		}
	}
	return sec, user, nil
}

// verifyRunAsNonRoot refuses a container that would run as root while
// runAsNonRoot asks otherwise, with the kubelet's messages. An image user
// given by name cannot be checked and is refused too, as upstream.
func verifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, sc *corev1.SecurityContext, imageUser string) error {
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return nil
	}
	if sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podFullName(pod), c.Name)
		}
		return nil
	}
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		user = "0"
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	switch {
	case err != nil:
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)",
			user, podFullName(pod), c.Name)
	case uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podFullName(pod), c.Name)
	}
	return nil
}
