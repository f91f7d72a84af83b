package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// CreateContainer writes the container's bundle (config.json) and record.
func (r *Runtime) CreateContainer(ctx context.Context, sandboxID string, cfg runtime.ContainerConfig) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	r.mu.Lock()
	sb := r.sandboxes[sandboxID]
	switch {
	case sb == nil:
		r.mu.Unlock()
		return "", fmt.Errorf("sandbox %s: %w", sandboxID, runtime.ErrNotFound)
	case sb.rec.State != runtime.SandboxReady:
		r.mu.Unlock()
		return "", fmt.Errorf("sandbox %s: %w", sandboxID, runtime.ErrSandboxNotReady)
	}
	rec := sb.rec
	r.mu.Unlock()
	return r.createContainer(&rec, cfg, false)
}

func (r *Runtime) createContainer(sb *sandboxRecord, cfg runtime.ContainerConfig, pause bool) (string, error) {
	if cfg.LogPath == "" && !pause {
		cfg.LogPath = runtime.LogPath(cfg.Name, cfg.Attempt)
	}
	c := &container{rec: containerRecord{ID: newID(), SandboxID: sb.ID, Config: cfg, Created: time.Now(),
		State: runtime.StateCreated, Pause: pause}}
	if cfg.LogPath != "" {
		c.rec.LogPath = filepath.Join(sb.Config.LogDir, cfg.LogPath)
	}
	c.rec.Cgroup = filepath.Join(sb.Cgroup, c.rec.ID)
	if err := r.reserve(c); err != nil {
		return "", err
	}
	if err := r.writeBundle(sb, c); err != nil {
		r.mu.Lock()
		delete(r.containers, c.rec.ID)
		r.mu.Unlock()
		return "", errors.Join(err, r.removeBundle(&c.rec))
	}
	return c.rec.ID, nil
}

// reserve puts c in the map (state Created, op locked until the bundle
// is written) unless the name and attempt are taken.
func (r *Runtime) reserve(c *container) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.containers {
		if o.rec.SandboxID == c.rec.SandboxID && o.rec.Config.Name == c.rec.Config.Name &&
			o.rec.Config.Attempt == c.rec.Config.Attempt && !c.rec.Pause {
			return fmt.Errorf("container %s attempt %d: %w", c.rec.Config.Name, c.rec.Config.Attempt, runtime.ErrAlreadyExists)
		}
	}
	r.containers[c.rec.ID] = c
	return nil
}

// writeBundle mounts the rootfs if asked, resolves the user and writes
// config.json and the record.
func (r *Runtime) writeBundle(sb *sandboxRecord, c *container) error {
	cfg := &c.rec.Config
	bundle := r.bundleDir(c.rec.ID)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return err
	}
	if err := r.saveContainer(&c.rec); err != nil {
		return err
	}
	rootfs := cfg.Rootfs.Path
	if len(cfg.Rootfs.Mounts) > 0 {
		rootfs = filepath.Join(bundle, "rootfs")
		if err := mountRootfs(rootfs, cfg.Rootfs.Mounts); err != nil {
			return err
		}
		c.rec.RootfsMounted = true
	}
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		return fmt.Errorf("container %s: rootfs %q is not a directory: %w", cfg.Name, rootfs, runtime.ErrInvalidConfig)
	}
	u, err := resolveUser(rootfs, cfg.User)
	if err != nil {
		return fmt.Errorf("container %s: %w", cfg.Name, err)
	}
	if cfg.Security.RunAsNonRoot && u.uid == 0 {
		return fmt.Errorf("container %s: container has runAsNonRoot and image will run as root: %w", cfg.Name, runtime.ErrInvalidConfig)
	}
	in := &specInput{cfg: cfg, sandbox: sb, files: r.files(sb), rootfs: rootfs, user: u, cgroupsPath: c.rec.Cgroup,
		memsw: r.cg.memsw, bounding: r.bounding}
	if sb.PauseID != "" && !c.rec.Pause {
		r.mu.Lock()
		pause := r.containers[sb.PauseID]
		pid := 0
		if pause != nil {
			pid = pause.rec.PID
		}
		r.mu.Unlock()
		if pid == 0 {
			return fmt.Errorf("container %s: the shared PID namespace's process is not running: %w", cfg.Name, runtime.ErrSandboxNotReady)
		}
		in.pidNS = "/proc/" + strconv.Itoa(pid) + "/ns/pid"
	}
	if cfg.Security.Privileged {
		in.hostDevices = hostDevices()
	}
	spec, err := buildSpec(in)
	if err != nil {
		return fmt.Errorf("container %s: %w", cfg.Name, err)
	}
	if err := writeJSON(filepath.Join(bundle, "config.json"), spec); err != nil {
		return err
	}
	return r.saveContainer(&c.rec)
}

// mountRootfs mounts a rootfs given as mounts (an overlay, typically).
func mountRootfs(dir string, mounts []runtime.RootfsMount) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, m := range mounts {
		var flags uintptr
		var data []string
		for _, o := range m.Options {
			switch o {
			case "ro":
				flags |= unix.MS_RDONLY
			case "bind":
				flags |= unix.MS_BIND
			case "rbind":
				flags |= unix.MS_BIND | unix.MS_REC
			default:
				data = append(data, o)
			}
		}
		if err := unix.Mount(m.Source, dir, m.Type, flags, strings.Join(data, ",")); err != nil {
			return fmt.Errorf("mount rootfs (%s): %w", m.Type, err)
		}
	}
	return nil
}

// StartContainer runs a created container: it prepares it first unless
// PrepareContainer did, then lets its process run.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	c, sb, err := r.startable(id)
	if err != nil {
		return err
	}
	defer c.op.Unlock()
	return r.start(ctx, c, &sb)
}

// PrepareContainer launches a created container's conmon, which runs
// `<runtime> create`: the process exists in its namespaces and cgroups and
// waits until StartContainer releases it. The agent does this while the
// pod's network is still being attached. The container stays Created.
func (r *Runtime) PrepareContainer(ctx context.Context, id string) error {
	c, sb, err := r.startable(id)
	if err != nil {
		return err
	}
	defer c.op.Unlock()
	if c.rec.MonitorPID != 0 {
		return nil
	}
	return r.prepare(ctx, c, &sb)
}

var _ runtime.Preparer = (*Runtime)(nil)

// startable finds a Created container in a ready sandbox and returns it
// with its op lock held.
func (r *Runtime) startable(id string) (*container, sandboxRecord, error) {
	c, err := r.get(id)
	if err != nil {
		return nil, sandboxRecord{}, err
	}
	c.op.Lock()
	r.mu.Lock()
	sb := r.sandboxes[c.rec.SandboxID]
	state := c.rec.State
	var sbRec sandboxRecord
	if sb != nil {
		sbRec = sb.rec
	}
	r.mu.Unlock()
	switch {
	case state != runtime.StateCreated:
		err = fmt.Errorf("container %s is %s: %w", c.rec.Config.Name, state, runtime.ErrNotRunning)
	case sb == nil || sbRec.State != runtime.SandboxReady:
		err = fmt.Errorf("container %s: %w", c.rec.Config.Name, runtime.ErrSandboxNotReady)
	}
	if err != nil {
		c.op.Unlock()
		return nil, sandboxRecord{}, err
	}
	return c, sbRec, nil
}

// prepare launches conmon, which runs `<runtime> create` and reports the
// container's PID. A failure leaves the container Exited with StartError.
func (r *Runtime) prepare(ctx context.Context, c *container, sb *sandboxRecord) error {
	cfg := &c.rec.Config
	if c.rec.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(c.rec.LogPath), 0o755); err != nil {
			return r.startFailed(ctx, c, fmt.Errorf("create log directory: %w", err))
		}
	}
	r.mu.Lock()
	c.done = make(chan struct{})
	r.mu.Unlock()
	t0 := time.Now()
	m, err := r.launch(monitorSpec{
		containerID: c.rec.ID, uuid: c.rec.ID, bundle: r.bundleDir(c.rec.ID),
		name:    fmt.Sprintf("k8s_%s_%s_%s_%s_%d", cfg.Name, sb.Config.Name, sb.Config.Namespace, sb.Config.UID, cfg.Attempt),
		exitDir: filepath.Join(r.cfg.RunDir, "exits"), logPath: c.rec.LogPath, tty: cfg.TTY,
		stdin: cfg.Stdin, leaveStdin: !cfg.StdinOnce, cgroupProcs: r.cg.monitorProcs(sb.Cgroup, r.cfg.CgroupRoot),
	})
	if err != nil {
		return r.startFailed(ctx, c, err)
	}
	m.close()
	r.log.Debug("container created", "container", cfg.Name, "conmonExec", m.started.Sub(t0),
		"conmonFork", m.forked.Sub(m.started), "runtimeCreate", m.created.Sub(m.forked),
		"cgroupMove", m.moved.Sub(m.forked))
	r.mu.Lock()
	c.rec.PID, c.rec.MonitorPID, c.rec.MonitorStart = m.pid, m.conmonPID, procStart(m.conmonPID)
	err = r.saveContainer(&c.rec)
	r.mu.Unlock()
	return err
}

// start prepares the container unless that was done, then releases it
// (`<runtime> start`). A failure leaves the container Exited with
// StartError.
func (r *Runtime) start(ctx context.Context, c *container, sb *sandboxRecord) error {
	if c.rec.MonitorPID == 0 {
		if err := r.prepare(ctx, c, sb); err != nil {
			return err
		}
	} else if !monitorAlive(c.rec.MonitorPID, c.rec.MonitorStart) {
		return r.startFailed(ctx, c, errors.New("the container's monitor (conmon) exited before the container was started"))
	}
	t0 := time.Now()
	if err := r.release(ctx, c.rec.ID, c.rec.PID); err != nil {
		return r.startFailed(ctx, c, err)
	}
	now := time.Now()
	r.log.Debug("container started", "container", c.rec.Config.Name, "release", now.Sub(t0))
	r.mu.Lock()
	c.rec.State, c.rec.Started = runtime.StateRunning, now
	err := r.saveContainer(&c.rec)
	r.notify.Publish(runtime.Event{Type: runtime.EventStarted, ContainerID: c.rec.ID, SandboxID: c.rec.SandboxID, Time: now})
	r.refreshLocked(c) // it may have exited already
	r.mu.Unlock()
	return err
}

// startFailed records a start that did not happen, as upstream reports it,
// and removes what the OCI runtime may have made.
func (r *Runtime) startFailed(ctx context.Context, c *container, cause error) error {
	_, _ = r.cli(ctx, "delete", "--force", c.rec.ID)
	r.mu.Lock()
	c.rec.Started = time.Now()
	r.finishLocked(c, 128, runtime.ReasonStartError, cause.Error(), c.rec.Started)
	r.mu.Unlock()
	return fmt.Errorf("start container %s: %w", c.rec.Config.Name, cause)
}

// StopContainer sends the stop signal, then SIGKILL after grace.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	c.op.Lock()
	defer c.op.Unlock()
	return r.stop(ctx, c, grace)
}

func (r *Runtime) stop(ctx context.Context, c *container, grace time.Duration) error {
	r.mu.Lock()
	r.refreshLocked(c)
	running := c.rec.State == runtime.StateRunning
	sig := c.rec.Config.StopSignal
	if sig == "" {
		sig = "TERM"
	}
	termArgs, killArgs := r.killArgs(c, sig), r.killArgs(c, "KILL")
	r.mu.Unlock()
	if !running {
		return nil
	}
	if grace > 0 {
		if _, err := r.cli(ctx, termArgs...); err != nil {
			r.log.Debug("stop signal", "container", c.rec.Config.Name, "err", err)
		}
		if r.waitExit(ctx, c, grace) {
			return nil
		}
	}
	if _, err := r.cli(ctx, killArgs...); err != nil {
		r.log.Debug("kill", "container", c.rec.Config.Name, "err", err)
	}
	if !r.waitExit(ctx, c, 0) {
		return fmt.Errorf("stop container %s: %w", c.rec.Config.Name, ctx.Err())
	}
	return nil
}

// waitExit waits until the exit is recorded, at most within (0 = until
// ctx ends). The exit watcher wakes it; polling the exit file makes it
// independent of Run.
func (r *Runtime) waitExit(ctx context.Context, c *container, within time.Duration) bool {
	var deadline <-chan time.Time
	if within > 0 {
		t := time.NewTimer(within)
		defer t.Stop()
		deadline = t.C
	}
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		r.mu.Lock()
		r.refreshLocked(c)
		exited, done := c.rec.State != runtime.StateRunning, c.done
		r.mu.Unlock()
		if exited {
			return true
		}
		select {
		case <-done:
		case <-poll.C:
		case <-deadline:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// RemoveContainer kills the container if needed and removes its bundle,
// runtime state and exit file. The log stays.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	c, err := r.get(id)
	if err != nil {
		return nil
	}
	c.op.Lock()
	defer c.op.Unlock()
	if err := r.stop(ctx, c, 0); err != nil {
		return err
	}
	if c.rec.State == runtime.StateCreated && c.rec.MonitorPID != 0 {
		// Prepared, never started: its process waits to be released and
		// its conmon with it, until the runtime deletes it.
		if _, err := r.cli(ctx, "delete", "--force", id); err != nil && !notExist(err) {
			r.log.Debug("delete prepared container", "container", c.rec.Config.Name, "err", err)
		}
	}
	// conmon writes the exit file before it finishes; wait for it to go
	// so nothing is left in the pod's cgroup.
	waitGone(ctx, c.rec.MonitorPID, c.rec.MonitorStart, 5*time.Second)
	var errs []error
	if _, err := r.cli(ctx, "delete", "--force", id); err != nil && !notExist(err) {
		errs = append(errs, err)
	}
	errs = append(errs, r.removeBundle(&c.rec))
	r.mu.Lock()
	delete(r.containers, id)
	r.mu.Unlock()
	r.notify.Publish(runtime.Event{Type: runtime.EventRemoved, ContainerID: id, SandboxID: c.rec.SandboxID, Time: time.Now()})
	return errors.Join(errs...)
}

// removeBundle removes what the container left on disk: the exit file,
// conmon's socket link, the rootfs mount and the bundle.
func (r *Runtime) removeBundle(rec *containerRecord) error {
	var errs []error
	for _, p := range []string{r.exitFile(rec.ID), filepath.Join(r.socketDir(), rec.ID)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	bundle := r.bundleDir(rec.ID)
	if rec.RootfsMounted {
		for {
			if err := unix.Unmount(filepath.Join(bundle, "rootfs"), unix.MNT_DETACH); err != nil {
				if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
					errs = append(errs, fmt.Errorf("unmount rootfs: %w", err))
				}
				break
			}
		}
	}
	if err := os.RemoveAll(bundle); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// notExist reports a runtime error about a container it does not know.
func notExist(err error) bool {
	s := err.Error()
	return strings.Contains(s, "does not exist") || strings.Contains(s, "not found") || strings.Contains(s, "No such file")
}

// ContainerStatus reports one container.
func (r *Runtime) ContainerStatus(_ context.Context, id string) (runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.containers[id]
	if c == nil || c.rec.Pause {
		return runtime.ContainerStatus{}, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	r.refreshLocked(c)
	return c.status(), nil
}

// ListContainers reports matching containers, oldest first.
func (r *Runtime) ListContainers(_ context.Context, f runtime.ContainerFilter) ([]runtime.ContainerStatus, error) {
	r.mu.Lock()
	var out []runtime.ContainerStatus
	for _, c := range r.containers {
		// Only the containers the filter can select are refreshed (each
		// refresh reads the exit file and the monitor's /proc entry): a
		// pod worker lists its own sandbox's containers on every sync,
		// which must not cost a read per container of the node.
		if c.rec.Pause || (f.SandboxID != "" && c.rec.SandboxID != f.SandboxID) ||
			(f.Name != "" && c.rec.Config.Name != f.Name) {
			continue
		}
		r.refreshLocked(c)
		if st := c.status(); f.Match(&st) {
			out = append(out, st)
		}
	}
	r.mu.Unlock()
	runtime.SortContainers(out)
	return out, nil
}

func (c *container) status() runtime.ContainerStatus {
	rec := &c.rec
	return runtime.ContainerStatus{
		ID: rec.ID, SandboxID: rec.SandboxID, Name: rec.Config.Name, Attempt: rec.Config.Attempt,
		Image: rec.Config.Image, ImageID: rec.Config.ImageID, State: rec.State, PID: rec.PID,
		ExitCode: rec.ExitCode, Reason: rec.Reason, Message: rec.Message,
		CreatedAt: rec.Created, StartedAt: rec.Started, FinishedAt: rec.Finished,
		LogPath: rec.LogPath, Labels: rec.Config.Labels, Annotations: rec.Config.Annotations,
	}
}

// get finds a container (pause processes included).
func (r *Runtime) get(id string) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.containers[id]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
}
