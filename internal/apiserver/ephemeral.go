package apiserver

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// pods/{name}/ephemeralcontainers (PUT, PATCH) is how `kubectl debug`
// adds a container to a running pod. As upstream's strategy for it, only
// spec.ephemeralContainers changes: the rest of the pod is kept as stored,
// containers may only be added (never changed or removed), and a new one
// is validated with the ephemeral rules (no ports, probes, lifecycle,
// resources or restart policy). The node's agent starts it.

// prepareEphemeralUpdate makes obj the stored pod old with obj's
// ephemeral containers and validates the change.
func prepareEphemeralUpdate(obj, old runtime.Object) field.ErrorList {
	pod, ok1 := obj.(*corev1.Pod)
	cur, ok2 := old.(*corev1.Pod)
	if !ok1 || !ok2 {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("ephemeralcontainers of %T", obj))}
	}
	want := pod.Spec.EphemeralContainers
	meta := pod.ObjectMeta
	*pod = *cur.DeepCopy()
	pod.ObjectMeta = meta
	pod.Spec.EphemeralContainers = want
	return validateEphemeralUpdate(want, cur)
}

func validateEphemeralUpdate(want []corev1.EphemeralContainer, cur *corev1.Pod) field.ErrorList {
	path := field.NewPath("spec", "ephemeralContainers")
	var errs field.ErrorList
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range want {
		byName[want[i].Name] = &want[i]
	}
	for i := range cur.Spec.EphemeralContainers {
		old := &cur.Spec.EphemeralContainers[i]
		if now, ok := byName[old.Name]; !ok {
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("existing ephemeral containers %q may not be removed", old.Name)))
		} else if !equality.Semantic.DeepEqual(old, now) {
			errs = append(errs, field.Forbidden(path.Key(old.Name), "existing ephemeral containers may not be changed"))
		}
	}
	seen := map[string]bool{}
	for _, c := range cur.Spec.InitContainers {
		seen[c.Name] = true
	}
	for _, c := range cur.Spec.Containers {
		seen[c.Name] = true
	}
	for i := range want {
		c := &want[i]
		p := path.Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			if c.Name != "" {
				errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
			}
		}
		if seen[c.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		}
		seen[c.Name] = true
		if c.Image == "" {
			errs = append(errs, field.Required(p.Child("image"), ""))
		}
		errs = append(errs, ephemeralForbidden(c, p)...)
	}
	return errs
}

// ephemeralForbidden are the container fields an ephemeral container may
// not set.
func ephemeralForbidden(c *corev1.EphemeralContainer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"ports", len(c.Ports) > 0}, {"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil},
		{"startupProbe", c.StartupProbe != nil}, {"lifecycle", c.Lifecycle != nil}, {"resizePolicy", len(c.ResizePolicy) > 0},
		{"restartPolicy", c.RestartPolicy != nil},
		{"resources", len(c.Resources.Limits) > 0 || len(c.Resources.Requests) > 0 || len(c.Resources.Claims) > 0},
	} {
		if f.set {
			errs = append(errs, field.Forbidden(p.Child(f.name), "cannot be set for an Ephemeral Container"))
		}
	}
	return errs
}
