package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// dialAttach connects to conmon's attach socket in dir. The socket is
// reached through /proc/self/fd/<dir fd>/attach, so the path stays under
// the 108-byte limit of a socket address however long dir is.
func dialAttach(dir string) (*net.UnixConn, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	defer unix.Close(fd)
	addr := &net.UnixAddr{Name: "/proc/self/fd/" + strconv.Itoa(fd) + "/attach", Net: "unixpacket"}
	conn, err := net.DialUnix("unixpacket", nil, addr)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return conn, nil
}

// pumpOutput copies conmon's attach packets (one stream byte, then data:
// 2 = stdout, 3 = stderr) to the writers until the socket closes.
func pumpOutput(conn *net.UnixConn, stdout, stderr io.Writer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10+1)
		for {
			n, err := conn.Read(buf)
			if n > 1 {
				w := stdout
				if buf[0] == 3 {
					w = stderr
				}
				if _, werr := w.Write(buf[1:n]); werr != nil {
					return
				}
			}
			if err != nil || n == 0 {
				return
			}
		}
	}()
	return done
}

// pumpInput copies stdin to conmon raw; its end half-closes the socket,
// which conmon takes as the end of the container's stdin.
func pumpInput(conn *net.UnixConn, stdin io.Reader) {
	_, _ = io.Copy(conn, stdin)
	_ = conn.CloseWrite()
}

// Attach connects to the main process's stdio through its conmon.
func (r *Runtime) Attach(ctx context.Context, id string, opts runtime.AttachOptions) error {
	c, _, err := r.running(id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	withStdin := c.rec.Config.Stdin && opts.Stdin != nil
	r.mu.Unlock()
	bundle := r.bundleDir(id)
	conn, err := dialAttach(bundle)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctl := filepath.Join(bundle, "ctl")
	resizes(opts.Resize, ctl, true)
	go resizes(opts.Resize, ctl, false)
	stderr := orDiscard(opts.Stderr)
	if opts.TTY {
		stderr = orDiscard(opts.Stdout)
	}
	out := pumpOutput(conn, orDiscard(opts.Stdout), stderr)
	if withStdin {
		go pumpInput(conn, opts.Stdin)
	}
	select {
	case <-out:
	case <-ctx.Done():
	}
	return nil
}

// PortForward connects stream to a port on the sandbox's loopback.
func (r *Runtime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	r.mu.Lock()
	sb := r.sandboxes[sandboxID]
	var ns string
	ready := false
	if sb != nil {
		ns, ready = sb.rec.NetNS, sb.rec.State == runtime.SandboxReady
	}
	r.mu.Unlock()
	switch {
	case sb == nil:
		return fmt.Errorf("sandbox %s: %w", sandboxID, runtime.ErrNotFound)
	case !ready:
		return fmt.Errorf("sandbox %s: %w", sandboxID, runtime.ErrSandboxNotReady)
	case port <= 0 || port > 65535:
		return fmt.Errorf("port %d: %w", port, runtime.ErrInvalidConfig)
	}
	conn, err := dialInNetNS(ns, port)
	if err != nil {
		return fmt.Errorf("port-forward to port %d: %w", port, err)
	}
	defer conn.Close()
	toPod := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		toPod <- err
	}()
	fromPod := make(chan error, 1)
	go func() {
		_, err := io.Copy(stream, conn)
		fromPod <- err
	}()
	select {
	case err = <-fromPod:
	case <-ctx.Done():
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// ContainerStats reads the container's cgroup.
func (r *Runtime) ContainerStats(_ context.Context, id string) (runtime.Usage, error) {
	r.mu.Lock()
	c := r.containers[id]
	r.mu.Unlock()
	if c == nil || c.rec.Pause {
		return runtime.Usage{}, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	u, err := r.cg.usage(c.rec.Cgroup)
	if err != nil {
		return u, fmt.Errorf("stats of container %s: %w", c.rec.Config.Name, err)
	}
	return u, nil
}

// SandboxStats reads the pod-level cgroup, which includes its containers.
func (r *Runtime) SandboxStats(_ context.Context, id string) (runtime.Usage, error) {
	r.mu.Lock()
	sb := r.sandboxes[id]
	r.mu.Unlock()
	if sb == nil {
		return runtime.Usage{}, fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	u, err := r.cg.usage(sb.rec.Cgroup)
	if err != nil {
		return u, fmt.Errorf("stats of pod %s/%s: %w", sb.rec.Config.Namespace, sb.rec.Config.Name, err)
	}
	return u, nil
}
