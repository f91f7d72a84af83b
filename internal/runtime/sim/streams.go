package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"kserver.dev/kserver/internal/runtime"
)

// Exec runs the command in sim's tiny shell.
func (r *Runtime) Exec(ctx context.Context, id string, opts runtime.ExecOptions) (int, error) {
	if len(opts.Command) == 0 {
		return 0, fmt.Errorf("exec: no command: %w", runtime.ErrInvalidConfig)
	}
	c, err := r.lookup(id, true)
	if err != nil {
		return 0, err
	}
	sh := &shell{
		ctx: ctx, clock: r.clock, env: map[string]string{}, workdir: c.cfg.WorkingDir,
		stdout: orDiscard(opts.Stdout), stderr: orDiscard(opts.Stderr), tty: opts.TTY, resize: opts.Resize,
		hostname: c.sandbox.cfg.Hostname,
	}
	for _, kv := range c.cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		sh.env[k] = v
	}
	if _, ok := sh.env["HOSTNAME"]; !ok {
		sh.env["HOSTNAME"] = sh.hostname
	}
	if sh.workdir == "" {
		sh.workdir = "/"
	}
	if c.cfg.User.UID != nil {
		sh.uid = *c.cfg.User.UID
	}
	if opts.TTY {
		sh.stdout = crlf{sh.stdout}
		sh.stderr = sh.stdout
	}
	if opts.Stdin != nil {
		sh.stdin = bufio.NewReader(opts.Stdin)
	}
	return sh.run(opts.Command), nil
}

// Attach echoes stdin back like cat; when stdin ends and the container was
// created with StdinOnce, the container exits with its scripted code.
func (r *Runtime) Attach(ctx context.Context, id string, opts runtime.AttachOptions) error {
	r.mu.Lock()
	c, ok := r.containers[id]
	if !ok || c.state != runtime.StateRunning {
		r.mu.Unlock()
		if !ok {
			return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
		}
		return fmt.Errorf("container %s is %s: %w", c.cfg.Name, c.state, runtime.ErrNotRunning)
	}
	done := c.doneLocked()
	r.mu.Unlock()
	if opts.Stdin == nil || !c.cfg.Stdin {
		select {
		case <-done:
		case <-ctx.Done():
		}
		return nil
	}
	out := orDiscard(opts.Stdout)
	if opts.TTY {
		out = crlf{out}
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, opts.Stdin)
		copied <- err
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return nil
	case err := <-copied:
		if c.cfg.StdinOnce {
			r.mu.Lock()
			if c.state == runtime.StateRunning {
				r.exitLocked(c, c.script.exitCode, runtime.ExitReason(c.script.exitCode, false), "")
			}
			r.mu.Unlock()
		}
		return err
	}
}

// PortForward answers HTTP on the port a running container of the sandbox
// scripted with http-port; other ports refuse the connection.
func (r *Runtime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	r.mu.Lock()
	sb, ok := r.sandboxes[sandboxID]
	var server *container
	for _, c := range sandboxContainers(sb) {
		if c.state == runtime.StateRunning && c.script.httpPort == port {
			server = c
		}
	}
	r.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("sandbox %s: %w", sandboxID, runtime.ErrNotFound)
	case server == nil:
		return fmt.Errorf("dial tcp 127.0.0.1:%d: connect: connection refused", port)
	}
	body := server.script.httpBody
	if body == "" {
		body = sb.cfg.Hostname + "\n"
	}
	br := bufio.NewReader(stream)
	for ctx.Err() == nil {
		req, err := http.ReadRequest(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("port-forward %d: %w", port, err)
		}
		_, _ = io.Copy(io.Discard, req.Body)
		resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
		if req.Close {
			resp += "Connection: close\r\n"
		}
		if _, err := io.WriteString(stream, resp+"\r\n"+body); err != nil || req.Close {
			return err
		}
	}
	return nil
}

// ContainerStats reports the scripted usage of a running container.
func (r *Runtime) ContainerStats(_ context.Context, id string) (runtime.Usage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.Usage{}, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return r.usageLocked(c), nil
}

// SandboxStats sums the usage of the sandbox's containers.
func (r *Runtime) SandboxStats(_ context.Context, id string) (runtime.Usage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return runtime.Usage{}, fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	u := runtime.Usage{Timestamp: r.clock.Now()}
	for _, c := range sb.containers {
		cu := r.usageLocked(c)
		u.CPUUsageNanos += cu.CPUUsageNanos
		u.MemoryUsageBytes += cu.MemoryUsageBytes
		u.MemoryWorkingSetBytes += cu.MemoryWorkingSetBytes
		u.MemoryRSSBytes += cu.MemoryRSSBytes
	}
	return u, nil
}

func (r *Runtime) usageLocked(c *container) runtime.Usage {
	now := r.clock.Now()
	u := runtime.Usage{Timestamp: now}
	if c.state != runtime.StateRunning {
		return u
	}
	cpu, mem := c.script.cpuMilli, c.script.memoryBytes
	if cpu == 0 {
		cpu = max(c.cfg.Resources.CPURequestMilli, 1)
	}
	if mem == 0 {
		mem = max(c.cfg.Resources.MemoryRequestBytes, 1<<20)
	}
	u.CPUUsageNanos = uint64(now.Sub(c.started).Nanoseconds()) * uint64(cpu) / 1000
	u.MemoryUsageBytes, u.MemoryWorkingSetBytes, u.MemoryRSSBytes = uint64(mem), uint64(mem), uint64(mem)
	return u
}

// Probe answers the agent's probes from the script: readiness and startup
// succeed from ready-after on, liveness fails from liveness-fail-after on.
func (r *Runtime) Probe(_ context.Context, id string, kind runtime.ProbeKind) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return false, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if c.state != runtime.StateRunning {
		return false, nil
	}
	up := r.clock.Since(c.started)
	switch kind {
	case runtime.ProbeLiveness:
		return c.script.livenessFail == 0 || up < c.script.livenessFail, nil
	default:
		return up >= c.script.readyAfter, nil
	}
}

func sandboxContainers(sb *sandbox) map[string]*container {
	if sb == nil {
		return nil
	}
	return sb.containers
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
