package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/image"
	"kserver.dev/kserver/internal/runtime"
)

// Container annotations the agent sets (as the kubelet's
// io.kubernetes.container.* labels) and reads back from the runtime.
const (
	annotationHash = "io.kubernetes.container.hash"
	labelContainer = "io.kubernetes.container.name"
	// annotationRootfs names the container's root file system in the image
	// store (removed with the container).
	annotationRootfs = "io.kserver.rootfs"
	// annotationTermination is the host file mounted at the container's
	// terminationMessagePath.
	annotationTermination = "io.kubernetes.container.terminationMessagePath"
	// annotationTermPolicy is the container's terminationMessagePolicy.
	annotationTermPolicy = "io.kubernetes.container.terminationMessagePolicy"
	// labelHostNetwork marks the sandbox of a hostNetwork pod.
	labelHostNetwork = "io.kserver.host-network"
)

// containerConfig resolves a container of the pod for the runtime: the
// command from the image's entrypoint and cmd and the pod's command and
// args with $(VAR) expansion, the environment, the user and security
// context, the root file system, mounts of the prepared volumes and the
// pod's /etc/hosts and termination-message file, resources.
func (w *podWorker) containerConfig(ctx context.Context, r *podRun, c *corev1.Container, attempt uint32, img image.Image) (runtime.ContainerConfig, error) {
	a := w.ws.a
	icfg, err := a.parts.Images.ImageConfig(img.ID)
	if err != nil {
		return runtime.ContainerConfig{}, fmt.Errorf("read image %s config: %w", c.Image, err)
	}
	env, err := w.containerEnv(ctx, r, c, icfg.Env)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	sec, user, err := containerSecurity(r.pod, c, icfg.User, a.cfg.SeccompRoot)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	command := icfg.Command(expandAll(c.Command, vars), expandAll(c.Args, vars))
	res := containerResources(c)
	res.OOMScoreAdj = oomScoreAdj(podQOS(r.pod), res.MemoryRequestBytes, a.memoryCapacity())
	cfg := runtime.ContainerConfig{
		Name: c.Name, Attempt: attempt,
		Image: img.Name(), ImageID: img.Ref(),
		Command: command, Env: env, WorkingDir: c.WorkingDir, User: user, Security: sec,
		TTY: c.TTY, Stdin: c.Stdin, StdinOnce: c.StdinOnce,
		StopSignal: icfg.StopSignal,
		Resources:  res,
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
	if err := w.containerMounts(r, c, &cfg, vars); err != nil {
		return runtime.ContainerConfig{}, err
	}
	return cfg, nil
}

// prepareRootfs mounts the container's root file system from its image
// when the image service makes them (real nodes); its name in the store is
// recorded on the container so it goes when the container goes.
func (w *podWorker) prepareRootfs(ctx context.Context, r *podRun, cfg *runtime.ContainerConfig, img image.Image) error {
	rs, ok := w.ws.a.parts.Images.(Rootfs)
	if !ok {
		return nil
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := fmt.Sprintf("%s-%s-%d-%s", r.pod.UID, cfg.Name, cfg.Attempt, hex.EncodeToString(b[:]))
	p, err := rs.PrepareRootfs(ctx, key, img.ID)
	if err != nil {
		return fmt.Errorf("prepare root file system: %w", err)
	}
	cfg.Rootfs.Path = p
	cfg.Annotations[annotationRootfs] = key
	return nil
}

// containerMounts are the container's volume mounts (subPath, readOnly,
// propagation), the pod's /etc/hosts unless the container mounts its own,
// and the termination-message file.
func (w *podWorker) containerMounts(r *podRun, c *corev1.Container, cfg *runtime.ContainerConfig, vars map[string]string) error {
	vols := w.volumes
	hostsMounted := false
	for _, m := range c.VolumeMounts {
		host, ok := vols.Paths[m.Name]
		if !ok {
			if vols.Paths == nil {
				continue // simulated nodes prepare no volumes
			}
			return fmt.Errorf("cannot find volume %q to mount into container %q", m.Name, c.Name)
		}
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = expand(m.SubPathExpr, vars)
		}
		if sub != "" {
			var err error
			if host, err = subPath(host, sub, m.Name, c.Name); err != nil {
				return err
			}
		}
		prop := runtime.PropagationPrivate
		if m.MountPropagation != nil {
			prop = runtime.Propagation(*m.MountPropagation)
		}
		if path.Clean(m.MountPath) == "/etc/hosts" {
			hostsMounted = true
		}
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{ContainerPath: m.MountPath, HostPath: host, Type: runtime.MountBind,
			ReadOnly: m.ReadOnly || vols.ReadOnly[m.Name], Propagation: prop})
	}
	if vols.Dir == "" {
		return nil
	}
	if hosts := filepath.Join(vols.Dir, "etc-hosts"); !hostsMounted && fileExists(hosts) {
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{ContainerPath: "/etc/hosts", HostPath: hosts, Type: runtime.MountBind})
	}
	if c.TerminationMessagePath != "" {
		dir := filepath.Join(vols.Dir, "containers", c.Name)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		f := filepath.Join(dir, strconv.Itoa(int(cfg.Attempt)))
		if err := os.WriteFile(f, nil, 0o666); err != nil {
			return err
		}
		_ = os.Chmod(f, 0o666) // any container user may write its message
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{ContainerPath: c.TerminationMessagePath, HostPath: f, Type: runtime.MountBind})
		cfg.Annotations[annotationTermination] = f
		cfg.Annotations[annotationTermPolicy] = string(c.TerminationMessagePolicy)
	}
	return nil
}

// subPath is a volume's sub-path for one mount: made (as a directory with
// the volume's mode) when missing, and refused when it leads out of the
// volume through a symlink.
func subPath(volume, sub, volName, container string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("error SubPath `%s` must not be an absolute path", sub)
	}
	for _, part := range strings.Split(sub, "/") {
		if part == ".." {
			return "", fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", sub)
		}
	}
	full := filepath.Join(volume, sub)
	if _, err := os.Lstat(full); errors.Is(err, os.ErrNotExist) {
		perm := os.FileMode(0o755)
		if fi, err := os.Stat(volume); err == nil {
			perm = fi.Mode().Perm()
		}
		if err := os.MkdirAll(full, perm); err != nil {
			return "", fmt.Errorf("failed to create subPath directory for volumeMount %q of container %q", volName, container)
		}
	}
	root, err1 := filepath.EvalSymlinks(volume)
	real, err2 := filepath.EvalSymlinks(full)
	if err1 != nil || err2 != nil || (real != root && !strings.HasPrefix(real, root+"/")) {
		return "", fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q", volName, container)
	}
	return real, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// fieldValue is the downward API's value of a pod field for env.
func (w *podWorker) fieldValue(r *podRun, path string) (string, error) {
	p := r.pod
	switch path {
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
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
	case "metadata.labels", "metadata.annotations":
		return "", fmt.Errorf("unsupported fieldPath %q", path)
	}
	return volumeFieldValue(p, path)
}

// expand replaces $(VAR) with known variables; $$ escapes, and unknown
// references stay as written (Kubernetes' expansion rules).
func expand(s string, vars map[string]string) string {
	return expandWith(s, func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	})
}

func expandWith(s string, lookup func(string) (string, bool)) string {
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
			if v, ok := lookup(name); ok {
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
	req, lim := c.Resources.Requests, c.Resources.Limits
	r := runtime.Resources{
		CPURequestMilli:    q(req, corev1.ResourceCPU, true),
		CPULimitMilli:      q(lim, corev1.ResourceCPU, true),
		MemoryRequestBytes: q(req, corev1.ResourceMemory, false),
		MemoryLimitBytes:   q(lim, corev1.ResourceMemory, false),
	}
	// Requests default to limits (the API server does this for pods it
	// stores; static pods come from files).
	if r.CPURequestMilli == 0 {
		if _, ok := req[corev1.ResourceCPU]; !ok {
			r.CPURequestMilli = r.CPULimitMilli
		}
	}
	if r.MemoryRequestBytes == 0 {
		if _, ok := req[corev1.ResourceMemory]; !ok {
			r.MemoryRequestBytes = r.MemoryLimitBytes
		}
	}
	return r
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
