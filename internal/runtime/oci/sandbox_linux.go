package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// shmSize is the size of a pod's /dev/shm, as container runtimes default it.
const shmSize = 64 << 20

// CreateSandbox makes a pod's namespaces, files and cgroup.
func (r *Runtime) CreateSandbox(ctx context.Context, cfg runtime.SandboxConfig) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Name
	}
	if cfg.LogDir == "" {
		cfg.LogDir = runtime.LogDir(r.cfg.LogRoot, cfg.Namespace, cfg.Name, cfg.UID)
	}
	sb := &sandbox{rec: sandboxRecord{ID: newID(), Config: cfg, Created: time.Now(), State: runtime.SandboxNotReady,
		Cgroup: r.podCgroup(&cfg)}}
	key := podKey{cfg.UID, cfg.Attempt}
	r.mu.Lock()
	dup := r.pending[key]
	for _, o := range r.sandboxes {
		dup = dup || (o.rec.Config.UID == cfg.UID && o.rec.Config.Attempt == cfg.Attempt)
	}
	if dup {
		r.mu.Unlock()
		return "", fmt.Errorf("sandbox for pod %s/%s attempt %d: %w", cfg.Namespace, cfg.Name, cfg.Attempt, runtime.ErrAlreadyExists)
	}
	r.pending[key] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.pending, key)
		r.mu.Unlock()
	}()

	// Nobody sees the sandbox until it is complete.
	if err := r.setupSandbox(ctx, &sb.rec); err != nil {
		return "", errors.Join(fmt.Errorf("create sandbox for pod %s/%s: %w", cfg.Namespace, cfg.Name, err),
			r.teardownSandbox(ctx, sb))
	}
	r.mu.Lock()
	r.sandboxes[sb.rec.ID] = sb
	r.mu.Unlock()
	return sb.rec.ID, nil
}

// podKey identifies a pod sandbox attempt.
type podKey struct {
	uid     string
	attempt uint32
}

// setupSandbox makes everything a sandbox holds. The record is written
// first, so that a crash half-way leaves something adoption can tear down.
func (r *Runtime) setupSandbox(ctx context.Context, rec *sandboxRecord) error {
	cfg := &rec.Config
	dir := r.sandboxDir(rec.ID)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	if err := r.saveSandbox(rec); err != nil {
		return err
	}
	if err := writeSandboxFiles(dir, cfg); err != nil {
		return err
	}
	if !cfg.HostIPC {
		shm := filepath.Join(dir, "shm")
		if err := os.MkdirAll(shm, 0o1777); err != nil {
			return err
		}
		if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
			fmt.Sprintf("mode=1777,size=%d", shmSize)); err != nil {
			return fmt.Errorf("mount /dev/shm of the pod: %w", err)
		}
		rec.ShmMounted = true
	}
	var kinds []string
	nsDir := r.nsDir(rec.ID)
	if !cfg.HostIPC {
		kinds, rec.IPCNS = append(kinds, "ipc"), filepath.Join(nsDir, "ipc")
	}
	if !cfg.HostNetwork {
		kinds, rec.UTSNS = append(kinds, "uts"), filepath.Join(nsDir, "uts")
		rec.NetNS = cfg.NetNSPath
		if rec.NetNS == "" {
			kinds, rec.NetNS, rec.OwnNetNS = append(kinds, "net"), filepath.Join(nsDir, "net"), true
		}
	}
	if err := pinNamespaces(nsDir, kinds, cfg.Hostname); err != nil {
		return err
	}
	if err := r.cg.createPod(rec.Cgroup, cfg.Resources); err != nil {
		return err
	}
	if err := r.saveSandbox(rec); err != nil {
		return err
	}
	if cfg.ShareProcessNamespace {
		if err := r.startPause(ctx, rec); err != nil {
			return fmt.Errorf("start the process holding the shared PID namespace: %w", err)
		}
	}
	rec.State = runtime.SandboxReady
	return r.saveSandbox(rec)
}

// writeSandboxFiles writes the /etc/hostname, /etc/resolv.conf and
// /etc/hosts every container of the pod gets (the agent may mount its own
// /etc/hosts over ours, as the kubelet does).
func writeSandboxFiles(dir string, cfg *runtime.SandboxConfig) error {
	resolv := []byte{}
	if cfg.DNS == nil {
		host, err := os.ReadFile("/etc/resolv.conf")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read the host's resolv.conf: %w", err)
		}
		resolv = host
	} else {
		var b strings.Builder
		for _, s := range cfg.DNS.Servers {
			fmt.Fprintf(&b, "nameserver %s\n", s)
		}
		if len(cfg.DNS.Searches) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(cfg.DNS.Searches, " "))
		}
		if len(cfg.DNS.Options) > 0 {
			fmt.Fprintf(&b, "options %s\n", strings.Join(cfg.DNS.Options, " "))
		}
		resolv = []byte(b.String())
	}
	hosts := []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if cfg.HostNetwork {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = b
		}
	}
	for name, data := range map[string][]byte{"hostname": []byte(cfg.Hostname + "\n"), "resolv.conf": resolv, "hosts": hosts} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// podCgroup is the pod-level cgroup path for the pod's QoS class.
func (r *Runtime) podCgroup(cfg *runtime.SandboxConfig) string {
	switch cfg.QOS {
	case runtime.QOSGuaranteed:
		return filepath.Join(r.cfg.CgroupRoot, "pod"+cfg.UID)
	case runtime.QOSBestEffort:
		return filepath.Join(r.cfg.CgroupRoot, "besteffort", "pod"+cfg.UID)
	}
	return filepath.Join(r.cfg.CgroupRoot, "burstable", "pod"+cfg.UID)
}

func (r *Runtime) files(rec *sandboxRecord) sandboxFiles {
	dir := r.sandboxDir(rec.ID)
	f := sandboxFiles{hostname: filepath.Join(dir, "hostname"), resolv: filepath.Join(dir, "resolv.conf"),
		hosts: filepath.Join(dir, "hosts"), shm: filepath.Join(dir, "shm")}
	if !rec.ShmMounted {
		f.shm = "/dev/shm"
	}
	return f
}

// StopSandbox kills the sandbox's containers and its pause process.
func (r *Runtime) StopSandbox(ctx context.Context, id string) error {
	r.mu.Lock()
	sb := r.sandboxes[id]
	r.mu.Unlock()
	if sb == nil {
		return fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	sb.op.Lock()
	defer sb.op.Unlock()
	return r.stopSandboxLocked(ctx, sb)
}

func (r *Runtime) stopSandboxLocked(ctx context.Context, sb *sandbox) error {
	var errs []error
	// App containers first, then the pause process whose PID namespace
	// they may share.
	for _, pause := range []bool{false, true} {
		for _, c := range r.sandboxContainers(sb.rec.ID) {
			if c.rec.Pause == pause {
				if err := r.StopContainer(ctx, c.rec.ID, 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
					errs = append(errs, err)
				}
			}
		}
	}
	r.mu.Lock()
	sb.rec.State = runtime.SandboxNotReady
	if err := r.saveSandbox(&sb.rec); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	r.mu.Unlock()
	return errors.Join(errs...)
}

// RemoveSandbox stops the sandbox and removes everything it had.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	r.mu.Lock()
	sb := r.sandboxes[id]
	r.mu.Unlock()
	if sb == nil {
		return nil
	}
	sb.op.Lock()
	defer sb.op.Unlock()
	err := r.teardownSandbox(ctx, sb)
	r.mu.Lock()
	delete(r.sandboxes, id)
	r.mu.Unlock()
	return err
}

// teardownSandbox undoes setupSandbox; every step tolerates "already gone".
func (r *Runtime) teardownSandbox(ctx context.Context, sb *sandbox) error {
	errs := []error{r.stopSandboxLocked(ctx, sb)}
	for _, c := range r.sandboxContainers(sb.rec.ID) {
		errs = append(errs, r.RemoveContainer(ctx, c.rec.ID))
	}
	rec := &sb.rec
	for _, p := range []string{rec.IPCNS, rec.UTSNS} {
		if p != "" {
			errs = append(errs, unpin(p))
		}
	}
	if rec.OwnNetNS {
		errs = append(errs, unpin(rec.NetNS))
	}
	_ = os.Remove(r.nsDir(rec.ID))
	if rec.ShmMounted {
		if err := unix.Unmount(filepath.Join(r.sandboxDir(rec.ID), "shm"), unix.MNT_DETACH); err != nil &&
			!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount /dev/shm of the pod: %w", err))
		}
	}
	errs = append(errs, r.cg.remove(rec.Cgroup))
	if err := os.RemoveAll(r.sandboxDir(rec.ID)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sandboxContainers lists a sandbox's containers.
func (r *Runtime) sandboxContainers(id string) []*container {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*container
	for _, c := range r.containers {
		if c.rec.SandboxID == id {
			out = append(out, c)
		}
	}
	return out
}

// SandboxStatus reports one sandbox.
func (r *Runtime) SandboxStatus(_ context.Context, id string) (runtime.SandboxStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb := r.sandboxes[id]
	if sb == nil {
		return runtime.SandboxStatus{}, fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	return sb.status(), nil
}

// ListSandboxes reports every sandbox, oldest first.
func (r *Runtime) ListSandboxes(context.Context) ([]runtime.SandboxStatus, error) {
	r.mu.Lock()
	out := make([]runtime.SandboxStatus, 0, len(r.sandboxes))
	for _, sb := range r.sandboxes {
		out = append(out, sb.status())
	}
	r.mu.Unlock()
	runtime.SortSandboxes(out)
	return out, nil
}

func (sb *sandbox) status() runtime.SandboxStatus {
	c := &sb.rec.Config
	return runtime.SandboxStatus{
		ID: sb.rec.ID, Name: c.Name, Namespace: c.Namespace, UID: c.UID, Attempt: c.Attempt, State: sb.rec.State,
		CreatedAt: sb.rec.Created, NetNSPath: sb.rec.NetNS, HostNetwork: c.HostNetwork, LogDir: c.LogDir,
		Labels: c.Labels, Annotations: c.Annotations,
	}
}
