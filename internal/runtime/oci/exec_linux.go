package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// Exec runs a command in a running container. Without a terminal it is a
// foreground `<runtime> exec` with plain pipes (its exit status is the
// command's); with one it goes through a conmon exec session, which owns
// the terminal, resizes it and reports the exit code without kserver
// having to reap anything.
func (r *Runtime) Exec(ctx context.Context, id string, opts runtime.ExecOptions) (int, error) {
	if len(opts.Command) == 0 {
		return 0, fmt.Errorf("exec: no command: %w", runtime.ErrInvalidConfig)
	}
	_, cgroup, err := r.running(id)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp(filepath.Join(r.cfg.RunDir, "exec"), "")
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	defer os.RemoveAll(dir)
	procPath := filepath.Join(dir, "process.json")
	if err := r.writeProcess(id, procPath, opts); err != nil {
		return 0, err
	}
	if !opts.TTY {
		return r.execPlain(ctx, id, dir, procPath, opts)
	}
	return r.execTTY(ctx, id, dir, procPath, cgroup, opts)
}

// running finds a running app container and its pod's cgroup.
func (r *Runtime) running(id string) (*container, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.containers[id]
	if c == nil || c.rec.Pause {
		return nil, "", fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	r.refreshLocked(c)
	if c.rec.State != runtime.StateRunning {
		return nil, "", fmt.Errorf("container %s is %s: %w", c.rec.Config.Name, c.rec.State, runtime.ErrNotRunning)
	}
	cgroup := ""
	if sb := r.sandboxes[c.rec.SandboxID]; sb != nil {
		cgroup = sb.rec.Cgroup
	}
	return c, cgroup, nil
}

// writeProcess writes the container's process with the exec's command.
func (r *Runtime) writeProcess(id, path string, opts runtime.ExecOptions) error {
	var spec specs.Spec
	if err := readJSON(filepath.Join(r.bundleDir(id), "config.json"), &spec); err != nil || spec.Process == nil {
		return fmt.Errorf("exec: read the container's config: %w", errors.Join(err, runtime.ErrNotFound))
	}
	p := spec.Process
	p.Args, p.Terminal, p.ConsoleSize = opts.Command, opts.TTY, nil
	if opts.TTY && !hasEnv(p.Env, "TERM") {
		p.Env = append(p.Env, "TERM=xterm")
	}
	return writeJSON(path, p)
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func (r *Runtime) execPlain(ctx context.Context, id, dir, procPath string, opts runtime.ExecOptions) (int, error) {
	pidFile := filepath.Join(dir, "pid")
	cmd := exec.Command(r.cfg.RuntimePath, "--root", r.runtimeRoot(), "exec", "--pid-file", pidFile, "--process", procPath, id)
	cmd.Stdout, cmd.Stderr = orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	cmd.WaitDelay = 2 * time.Second // a background child holding stdout must not hang the session
	var stdinW *os.File
	if opts.Stdin != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return 0, fmt.Errorf("exec: %w", err)
		}
		cmd.Stdin, stdinW = pr, pw
		defer pr.Close()
	}
	if err := cmd.Start(); err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return 0, fmt.Errorf("exec: %w", err)
	}
	if stdinW != nil {
		// Not waited for: the client may keep its stream open after the
		// command ended; closing the pipe then ends the copy.
		go func() {
			_, _ = io.Copy(stdinW, opts.Stdin)
			stdinW.Close()
		}()
		defer stdinW.Close()
	}
	stop := context.AfterFunc(ctx, func() {
		// Killing the runtime would orphan the command: kill the command.
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	})
	defer stop()
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(interface{ Signal() os.Signal }); ok {
			if s, ok := ws.Signal().(unix.Signal); ok {
				return 128 + int(s), nil
			}
		}
	}
	return 0, fmt.Errorf("exec: %w", err)
}

func (r *Runtime) execTTY(ctx context.Context, id, dir, procPath, cgroup string, opts runtime.ExecOptions) (int, error) {
	session := filepath.Base(dir)
	exits := filepath.Join(dir, "exits")
	if err := os.Mkdir(exits, 0o700); err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	defer os.Remove(filepath.Join(r.socketDir(), session))
	var procs []string
	if cgroup != "" {
		procs = r.cg.monitorProcs(cgroup, r.cfg.CgroupRoot)
	}
	m, err := r.launch(monitorSpec{containerID: id, uuid: session, name: "exec-" + session, bundle: dir, exitDir: exits,
		tty: true, stdin: opts.Stdin != nil, execSpec: procPath, cgroupProcs: procs})
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	defer m.close()
	conn, err := dialAttach(dir)
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	defer conn.Close()
	// The second release runs the command; attached first, no output is lost.
	if _, err := m.start.Write([]byte("0")); err != nil {
		return 0, fmt.Errorf("exec: release conmon: %w", err)
	}
	_ = m.start.Close()
	m.start = nil
	pid, err := readSync(m.sync)
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	ctl := filepath.Join(dir, "ctl")
	resizes(opts.Resize, ctl, true)
	go resizes(opts.Resize, ctl, false)
	out := pumpOutput(conn, orDiscard(opts.Stdout), orDiscard(opts.Stdout))
	if opts.Stdin != nil {
		go pumpInput(conn, opts.Stdin)
	}
	stop := context.AfterFunc(ctx, func() { _ = unix.Kill(pid, unix.SIGKILL) })
	defer stop()
	code, err := readSync(m.sync)
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	select {
	case <-out:
	case <-time.After(2 * time.Second):
	}
	return code, nil
}

// resizes forwards terminal sizes to conmon's control fifo; with pending
// it only applies the sizes already queued (the initial size) and returns.
func resizes(ch <-chan runtime.TerminalSize, ctl string, pending bool) {
	if ch == nil {
		return
	}
	for {
		var s runtime.TerminalSize
		var ok bool
		if pending {
			select {
			case s, ok = <-ch:
			default:
				return
			}
		} else {
			s, ok = <-ch
		}
		if !ok {
			return
		}
		if err := writeCtl(ctl, fmt.Sprintf("1 %d %d\n", s.Rows, s.Cols)); err != nil {
			return
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
