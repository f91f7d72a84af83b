package agent

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// envList is an ordered environment: the first definition of a name fixes
// its place, later ones replace its value.
type envList struct {
	order []string
	vars  map[string]string
}

func newEnvList() *envList { return &envList{vars: map[string]string{}} }

func (e *envList) set(k, v string) {
	if _, ok := e.vars[k]; !ok {
		e.order = append(e.order, k)
	}
	e.vars[k] = v
}

func (e *envList) strings() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.vars[k])
	}
	return out
}

// containerEnv is a container's environment as the kubelet's
// makeEnvironmentVariables builds it, on top of the image's: envFrom
// sources (ConfigMaps, Secrets, with prefix), then env in order (values
// with $(VAR) expansion over what is defined so far and the Service
// variables; fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef),
// then the Service variables not already set. A missing object or key
// that is not optional is an error (CreateContainerConfigError).
func (w *podWorker) containerEnv(ctx context.Context, r *podRun, c *corev1.Container, imageEnv []string) ([]string, error) {
	a := w.ws.a
	pod := r.pod
	env := newEnvList()
	for _, kv := range imageEnv {
		k, v, _ := strings.Cut(kv, "=")
		env.set(k, v)
	}
	serviceEnv := a.serviceEnv(pod)
	defined := map[string]string{} // what $(VAR) may refer to
	for _, from := range c.EnvFrom {
		data, kind, name, err := a.envFromData(ctx, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		var invalid []string
		for _, k := range slices.Sorted(maps.Keys(data)) {
			name := from.Prefix + k
			if len(validation.IsRelaxedEnvVarName(name)) > 0 {
				invalid = append(invalid, name)
				continue
			}
			env.set(name, data[k])
			defined[name] = data[k]
		}
		if len(invalid) > 0 {
			a.rec.Eventf(podRef(pod, c.Name, isInitContainer(pod, c.Name)), corev1.EventTypeWarning, reasonInvalidEnvNames,
				"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
				strings.Join(invalid, ", "), kind, pod.Namespace, name)
		}
	}
	lookup := func(name string) (string, bool) {
		if v, ok := defined[name]; ok {
			return v, true
		}
		v, ok := serviceEnv.vars[name]
		return v, ok
	}
	for _, e := range c.Env {
		v, skip, err := w.envValue(ctx, r, c, e, lookup)
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		env.set(e.Name, v)
		defined[e.Name] = v
	}
	for _, k := range serviceEnv.order {
		if _, ok := defined[k]; !ok {
			env.set(k, serviceEnv.vars[k])
		}
	}
	return env.strings(), nil
}

// envValue resolves one env entry; skip is set for an optional source
// that is missing.
func (w *podWorker) envValue(ctx context.Context, r *podRun, c *corev1.Container, e corev1.EnvVar,
	lookup func(string) (string, bool)) (v string, skip bool, err error) {
	a := w.ws.a
	pod := r.pod
	switch {
	case e.Value != "":
		return expandWith(e.Value, lookup), false, nil
	case e.ValueFrom == nil:
		return "", false, nil
	case e.ValueFrom.FieldRef != nil:
		v, err := w.fieldValue(r, e.ValueFrom.FieldRef.FieldPath)
		return v, false, err
	case e.ValueFrom.ResourceFieldRef != nil:
		v, err := resourceFieldValue(pod, withContainer(e.ValueFrom.ResourceFieldRef, c.Name), a.Allocatable())
		return v, false, err
	case e.ValueFrom.ConfigMapKeyRef != nil:
		ref := e.ValueFrom.ConfigMapKeyRef
		cm, err := a.objects.configMap(ctx, pod.Namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(ref.Optional) {
				return "", true, nil
			}
			return "", false, volumeObjectError("configmap", ref.Name, err)
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, false, nil
		}
		if optional(ref.Optional) {
			return "", true, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
	case e.ValueFrom.SecretKeyRef != nil:
		ref := e.ValueFrom.SecretKeyRef
		s, err := a.objects.secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(ref.Optional) {
				return "", true, nil
			}
			return "", false, volumeObjectError("secret", ref.Name, err)
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), false, nil
		}
		if optional(ref.Optional) {
			return "", true, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
	}
	return "", false, nil
}

// envFromData reads one envFrom source; a missing optional one is empty.
func (a *Agent) envFromData(ctx context.Context, ns string, from corev1.EnvFromSource) (data map[string]string, kind, name string, err error) {
	switch {
	case from.ConfigMapRef != nil:
		name = from.ConfigMapRef.Name
		cm, err := a.objects.configMap(ctx, ns, name)
		if apierrors.IsNotFound(err) && optional(from.ConfigMapRef.Optional) {
			return nil, "configMap", name, nil
		}
		if err != nil {
			return nil, "", "", volumeObjectError("configmap", name, err)
		}
		return cm.Data, "configMap", name, nil
	case from.SecretRef != nil:
		name = from.SecretRef.Name
		s, err := a.objects.secret(ctx, ns, name)
		if apierrors.IsNotFound(err) && optional(from.SecretRef.Optional) {
			return nil, "secret", name, nil
		}
		if err != nil {
			return nil, "", "", volumeObjectError("secret", name, err)
		}
		out := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, "secret", name, nil
	}
	return nil, "", "", nil
}

func withContainer(ref *corev1.ResourceFieldSelector, name string) *corev1.ResourceFieldSelector {
	if ref.ContainerName != "" {
		return ref
	}
	out := *ref
	out.ContainerName = name
	return &out
}

// resourceFieldValue is a container's request or limit in the divisor's
// unit, rounded up, as the downward API reports it; a limit the container
// does not set is the node's allocatable amount.
func resourceFieldValue(pod *corev1.Pod, ref *corev1.ResourceFieldSelector, allocatable corev1.ResourceList) (string, error) {
	var c *corev1.Container
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == ref.ContainerName {
				c = &list[i]
			}
		}
	}
	if c == nil {
		return "", fmt.Errorf("container %s not found", ref.ContainerName)
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok && kind == "limits" {
		q = allocatable[corev1.ResourceName(name)]
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	switch name {
	case "cpu":
		m := q.MilliValue()
		return strconv.FormatInt((m+div.MilliValue()-1)/div.MilliValue(), 10), nil
	case "memory", "ephemeral-storage":
		return strconv.FormatInt((q.Value()+div.Value()-1)/div.Value(), 10), nil
	}
	if strings.HasPrefix(name, "hugepages-") {
		return strconv.FormatInt((q.Value()+div.Value()-1)/div.Value(), 10), nil
	}
	return "", fmt.Errorf("unsupported container resource: %s", ref.Resource)
}

// serviceEnv are the Service environment variables a pod sees, as the
// kubelet's getServiceEnvVarMap: the default namespace's "kubernetes"
// Service always, and with enableServiceLinks (the default) every Service
// of the pod's namespace that has a cluster IP; in each Service's order:
// <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT, _SERVICE_PORT_<PORT NAME>, and
// the Docker link variables <NAME>_PORT, <NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR].
func (a *Agent) serviceEnv(pod *corev1.Pod) *envList {
	env := newEnvList()
	if a.src.services == nil {
		return env
	}
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	chosen := map[string]*corev1.Service{}
	var own []*corev1.Service
	for _, s := range a.src.services() {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		switch {
		case s.Namespace == metav1.NamespaceDefault && s.Name == "kubernetes":
			chosen[s.Name] = s
		case s.Namespace == pod.Namespace && links:
			own = append(own, s)
		}
	}
	for _, s := range own { // a Service of the pod's namespace wins over the master Service of the same name
		chosen[s.Name] = s
	}
	for _, name := range slices.Sorted(maps.Keys(chosen)) {
		serviceVars(env, chosen[name])
	}
	return env
}

// serviceVars adds one Service's variables (envvars.FromServices).
func serviceVars(env *envList, s *corev1.Service) {
	if len(s.Spec.Ports) == 0 {
		return
	}
	prefix := envVarName(s.Name)
	ip := s.Spec.ClusterIP
	env.set(prefix+"_SERVICE_HOST", ip)
	env.set(prefix+"_SERVICE_PORT", strconv.Itoa(int(s.Spec.Ports[0].Port)))
	for _, p := range s.Spec.Ports {
		if p.Name != "" {
			env.set(prefix+"_SERVICE_PORT_"+envVarName(p.Name), strconv.Itoa(int(p.Port)))
		}
	}
	for i, p := range s.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		lower := strings.ToLower(proto)
		hostPort := net.JoinHostPort(ip, strconv.Itoa(int(p.Port)))
		if i == 0 {
			env.set(prefix+"_PORT", lower+"://"+hostPort)
		}
		pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
		env.set(pp, lower+"://"+hostPort)
		env.set(pp+"_PROTO", lower)
		env.set(pp+"_PORT", strconv.Itoa(int(p.Port)))
		env.set(pp+"_ADDR", ip)
	}
}

// envVarName is a Service or port name as a variable name: upper case,
// dashes as underscores.
func envVarName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
