package agent

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"kserver.dev/kserver/internal/image"
	"kserver.dev/kserver/internal/runtime"
)

// Container annotations the agent sets (as the kubelet's
// io.kubernetes.container.* labels) and reads back from the runtime.
const (
	annotationHash = "io.kubernetes.container.hash"
	labelContainer = "io.kubernetes.container.name"
)

// containerConfig resolves a container of the pod for the runtime: the
// command from the image's entrypoint and cmd and the pod's command and
// args, the environment, the working directory, mounts of the prepared
// volumes, resources. (Issue 5 adds: the root file system from
// image.Store.PrepareRootfs, user and securityContext, valueFrom of
// configMaps and secrets, envFrom, Service variables.)
func (w *podWorker) containerConfig(r *podRun, c *corev1.Container, attempt uint32, img image.Image) (runtime.ContainerConfig, error) {
	icfg, err := w.ws.a.parts.Images.ImageConfig(img.ID)
	if err != nil {
		return runtime.ContainerConfig{}, fmt.Errorf("read image %s config: %w", c.Image, err)
	}
	env, err := w.containerEnv(r, c, icfg.Env)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	command := icfg.Command(expandAll(c.Command, vars), expandAll(c.Args, vars))
	cfg := runtime.ContainerConfig{
		Name: c.Name, Attempt: attempt,
		Image: img.Name(), ImageID: img.Ref(),
		Command: command, Env: env, WorkingDir: c.WorkingDir,
		TTY: c.TTY, Stdin: c.Stdin, StdinOnce: c.StdinOnce,
		StopSignal: icfg.StopSignal,
		Resources:  containerResources(c),
		Labels: map[string]string{
			labelContainer: c.Name, "io.kubernetes.pod.name": r.pod.Name,
			"io.kubernetes.pod.namespace": r.pod.Namespace, "io.kubernetes.pod.uid": string(r.pod.UID),
		},
		Annotations: map[string]string{
			annotationHash:                             containerHash(c),
			"io.kubernetes.container.restartCount":     strconv.Itoa(int(attempt)),
			"io.kubernetes.pod.terminationGracePeriod": strconv.FormatInt(gracePeriod(r.pod), 10),
		},
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = icfg.WorkingDir
	}
	for _, m := range c.VolumeMounts {
		host, ok := w.volumes[m.Name]
		if !ok {
			continue // simulated nodes prepare no volumes
		}
		if m.SubPath != "" {
			host = filepath.Join(host, m.SubPath)
		}
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{ContainerPath: m.MountPath, HostPath: host, Type: runtime.MountBind, ReadOnly: m.ReadOnly})
	}
	return cfg, nil
}

// containerEnv is the image's environment, then the container's env in
// order (value with $(VAR) expansion, fieldRef, resourceFieldRef).
func (w *podWorker) containerEnv(r *podRun, c *corev1.Container, imageEnv []string) ([]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range imageEnv {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			set(e.Name, expand(e.Value, vars))
		case e.ValueFrom.FieldRef != nil:
			v, err := w.fieldValue(r, e.ValueFrom.FieldRef.FieldPath)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			set(e.Name, v)
		case e.ValueFrom.ResourceFieldRef != nil:
			set(e.Name, resourceValue(c, e.ValueFrom.ResourceFieldRef))
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}

// fieldValue is the downward API's value of a pod field.
func (w *podWorker) fieldValue(r *podRun, path string) (string, error) {
	p := r.pod
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return w.ws.a.cfg.NodeIP.String(), nil
	case "status.hostIPs":
		return w.ws.a.cfg.NodeIP.String(), nil
	case "status.podIP", "status.podIPs":
		ips := make([]string, len(w.ips))
		for i, ip := range w.ips {
			ips[i] = ip.String()
		}
		if path == "status.podIP" && len(ips) > 0 {
			return ips[0], nil
		}
		return strings.Join(ips, ","), nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return p.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return p.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// resourceValue is a container's request or limit in the ref's divisor
// (rounded up, as upstream); an unset limit is reported as 0 here where
// upstream reports the node's allocatable.
func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) string {
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q := list[corev1.ResourceName(name)]
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if name == "cpu" {
		return strconv.FormatInt((q.MilliValue()+div.MilliValue()-1)/div.MilliValue(), 10)
	}
	return strconv.FormatInt((q.Value()+div.Value()-1)/div.Value(), 10)
}

// expand replaces $(VAR) with known variables; $$ escapes.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(s[i:], "$("):
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func expandAll(in []string, vars map[string]string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, vars)
	}
	return out
}

// containerResources are the container's requests and limits.
func containerResources(c *corev1.Container) runtime.Resources {
	q := func(l corev1.ResourceList, n corev1.ResourceName, milli bool) int64 {
		v, ok := l[n]
		if !ok {
			return 0
		}
		if milli {
			return v.MilliValue()
		}
		return v.Value()
	}
	return runtime.Resources{
		CPURequestMilli:    q(c.Resources.Requests, corev1.ResourceCPU, true),
		CPULimitMilli:      q(c.Resources.Limits, corev1.ResourceCPU, true),
		MemoryRequestBytes: q(c.Resources.Requests, corev1.ResourceMemory, false),
		MemoryLimitBytes:   q(c.Resources.Limits, corev1.ResourceMemory, false),
	}
}

// containerHash identifies what of a container's spec a running container
// was made from; a change (a new image) restarts the container.
func containerHash(c *corev1.Container) string {
	b, _ := json.Marshal(struct {
		Image      string
		Command    []string
		Args       []string
		WorkingDir string
		Env        []corev1.EnvVar
	}{c.Image, c.Command, c.Args, c.WorkingDir, c.Env})
	h := fnv.New32a()
	_, _ = h.Write(b)
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}
