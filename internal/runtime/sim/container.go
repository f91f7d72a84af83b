package sim

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/runtime"
)

type container struct {
	id      string
	sandbox *sandbox
	cfg     runtime.ContainerConfig
	script  script

	state    runtime.ContainerState
	pid      int
	exitCode int32
	reason   string
	message  string
	created  time.Time
	started  time.Time
	finished time.Time

	// timers end the container: the scripted exit and a pending stop.
	// Both are runtime timers, not goroutines.
	exitTimer, stopTimer clock.Timer
	// done is closed when the container exits; made on demand by waiters.
	done chan struct{}
}

// CreateContainer records a container in the Created state.
func (r *Runtime) CreateContainer(_ context.Context, sandboxID string, cfg runtime.ContainerConfig) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[sandboxID]
	if !ok {
		return "", fmt.Errorf("sandbox %s: %w", sandboxID, runtime.ErrNotFound)
	}
	if sb.state != runtime.SandboxReady {
		return "", fmt.Errorf("sandbox %s: %w", sandboxID, runtime.ErrSandboxNotReady)
	}
	for _, c := range sb.containers {
		if c.cfg.Name == cfg.Name && c.cfg.Attempt == cfg.Attempt {
			return "", fmt.Errorf("container %s attempt %d in pod %s/%s: %w",
				cfg.Name, cfg.Attempt, sb.cfg.Namespace, sb.cfg.Name, runtime.ErrAlreadyExists)
		}
	}
	s, err := parseScript(cfg.Name, &cfg, sb.cfg.Annotations)
	if err != nil {
		return "", err
	}
	if cfg.LogPath == "" {
		cfg.LogPath = runtime.LogPath(cfg.Name, cfg.Attempt)
	}
	c := &container{id: newID(), sandbox: sb, cfg: cfg, script: s, state: runtime.StateCreated, created: r.clock.Now()}
	r.containers[c.id] = c
	sb.containers[c.id] = c
	return c.id, nil
}

// StartContainer makes a created container Running and arms its script.
func (r *Runtime) StartContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if c.state != runtime.StateCreated {
		return fmt.Errorf("container %s is %s: %w", c.cfg.Name, c.state, runtime.ErrNotRunning)
	}
	if c.sandbox.state != runtime.SandboxReady {
		return fmt.Errorf("container %s: %w", c.cfg.Name, runtime.ErrSandboxNotReady)
	}
	now := r.clock.Now()
	if c.script.failStart != "" {
		c.started = now
		r.exitLocked(c, 128, runtime.ReasonStartError, c.script.failStart)
		return fmt.Errorf("start container %s: %s", c.cfg.Name, c.script.failStart)
	}
	c.state, c.started = runtime.StateRunning, now
	r.nextPID++
	c.pid = r.nextPID
	s := &c.script
	if s.scripted(c.cfg.Attempt) {
		switch {
		case s.oomAfter > 0 && (s.runFor == 0 || s.oomAfter <= s.runFor):
			c.exitTimer = r.after(s.oomAfter, c, 137, runtime.ReasonOOMKilled)
		case s.runFor > 0:
			c.exitTimer = r.after(s.runFor, c, s.exitCode, runtime.ExitReason(s.exitCode, false))
		}
	}
	r.notify.Publish(runtime.Event{Type: runtime.EventStarted, ContainerID: c.id, SandboxID: c.sandbox.id, Time: now})
	return nil
}

// after arms a timer that makes c exit with code and reason at now+d. The
// callback only starts a goroutine: a fake clock runs callbacks while
// holding its own lock, and taking r.mu there would invert the lock order
// of every method that reads the clock under r.mu.
func (r *Runtime) after(d time.Duration, c *container, code int32, reason string) clock.Timer {
	at := r.clock.Now().Add(d)
	return r.clock.AfterFunc(d, func() {
		go func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if c.state == runtime.StateRunning {
				r.exitAtLocked(c, code, reason, "", at)
			}
		}()
	})
}

// exitLocked ends a container now; r.mu is held.
func (r *Runtime) exitLocked(c *container, code int32, reason, message string) {
	r.exitAtLocked(c, code, reason, message, r.clock.Now())
}

func (r *Runtime) exitAtLocked(c *container, code int32, reason, message string, at time.Time) {
	c.state, c.exitCode, c.reason, c.message = runtime.StateExited, code, reason, message
	c.finished, c.pid = at, 0
	for _, t := range []clock.Timer{c.exitTimer, c.stopTimer} {
		if t != nil {
			t.Stop()
		}
	}
	c.exitTimer, c.stopTimer = nil, nil
	if c.done != nil {
		close(c.done)
	}
	r.notify.Publish(runtime.Event{Type: runtime.EventExited, ContainerID: c.id, SandboxID: c.sandbox.id, Time: c.finished})
}

// doneLocked returns a channel closed when c has exited.
func (c *container) doneLocked() <-chan struct{} {
	if c.done == nil {
		c.done = make(chan struct{})
		if c.state == runtime.StateExited {
			close(c.done)
		}
	}
	return c.done
}

// StopContainer delivers SIGTERM as scripted and SIGKILL after grace.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	c, ok := r.containers[id]
	if !ok {
		r.mu.Unlock()
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if c.state != runtime.StateRunning {
		r.mu.Unlock()
		return nil
	}
	s := &c.script
	if grace < 0 {
		grace = 0
	}
	code, reason, wait := s.termExitCode, runtime.ExitReason(s.termExitCode, false), s.termDelay
	if s.ignoreTerm || s.termDelay >= grace {
		code, reason, wait = 137, runtime.ReasonError, grace
	}
	if wait == 0 {
		r.exitLocked(c, code, reason, "")
	} else if c.stopTimer == nil {
		c.stopTimer = r.after(wait, c, code, reason)
	}
	done := c.doneLocked()
	r.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop container %s: %w", c.cfg.Name, ctx.Err())
	}
}

// RemoveContainer kills and forgets a container.
func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		r.removeLocked(id, c)
	}
	return nil
}

func (r *Runtime) removeLocked(id string, c *container) {
	if c.state == runtime.StateRunning || c.state == runtime.StateCreated {
		r.exitLocked(c, 137, runtime.ReasonError, "")
	}
	delete(r.containers, id)
	delete(c.sandbox.containers, id)
	if c.sandbox.removed == nil {
		c.sandbox.removed = map[string]*container{}
	}
	if prev := c.sandbox.removed[c.cfg.Name]; prev == nil || prev.cfg.Attempt <= c.cfg.Attempt {
		c.sandbox.removed[c.cfg.Name] = c
	}
	r.notify.Publish(runtime.Event{Type: runtime.EventRemoved, ContainerID: id, SandboxID: c.sandbox.id, Time: r.clock.Now()})
}

// ContainerStatus reports one container.
func (r *Runtime) ContainerStatus(_ context.Context, id string) (runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.ContainerStatus{}, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return c.status(), nil
}

// ListContainers reports matching containers, oldest first.
func (r *Runtime) ListContainers(_ context.Context, f runtime.ContainerFilter) ([]runtime.ContainerStatus, error) {
	r.mu.Lock()
	var out []runtime.ContainerStatus
	from := r.containers
	if sb, ok := r.sandboxes[f.SandboxID]; ok {
		from = sb.containers
	}
	for _, c := range from {
		if st := c.status(); f.Match(&st) {
			out = append(out, st)
		}
	}
	r.mu.Unlock()
	runtime.SortContainers(out)
	return out, nil
}

func (c *container) status() runtime.ContainerStatus {
	return runtime.ContainerStatus{
		ID: c.id, SandboxID: c.sandbox.id, Name: c.cfg.Name, Attempt: c.cfg.Attempt,
		Image: c.cfg.Image, ImageID: c.cfg.ImageID, State: c.state, PID: c.pid,
		ExitCode: c.exitCode, Reason: c.reason, Message: c.message,
		CreatedAt: c.created, StartedAt: c.started, FinishedAt: c.finished,
		LogPath:     filepath.Join(c.sandbox.cfg.LogDir, c.cfg.LogPath),
		Labels:      c.cfg.Labels,
		Annotations: c.cfg.Annotations,
	}
}

// lookup finds a container; with running set it must be running.
func (r *Runtime) lookup(id string, running bool) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if running && c.state != runtime.StateRunning {
		return nil, fmt.Errorf("container %s is %s: %w", c.cfg.Name, c.state, runtime.ErrNotRunning)
	}
	return c, nil
}

func isNotFound(err error) bool { return errors.Is(err, runtime.ErrNotFound) }
