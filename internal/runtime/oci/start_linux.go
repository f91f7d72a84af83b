package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// release lets a created container's process exec its command, which is
// what `<runtime> start` does, without starting the runtime's binary a
// second time per container. Both runtimes park the container's init on
// <root>/<id>/exec.fifo, whose absence afterwards is what makes them
// report "running":
//   - runc's init waits to open the fifo for writing; `runc start` opens it
//     for reading, reads the byte init writes and removes the fifo;
//   - crun's init waits to read from it; `crun start` opens it for writing
//     (the init holds the reading end), removes it and writes one byte.
//
// Doing those steps here saves a process start (for runc a Go program,
// the largest single cost kserver added to a container start). If the
// fifo is not where these runtimes keep it, `<runtime> start` runs.
func (r *Runtime) release(ctx context.Context, id string, initPID int) error {
	fifo := filepath.Join(r.runtimeRoot(), id, "exec.fifo")
	if initPID <= 0 || (r.cfg.Runtime != "runc" && r.cfg.Runtime != "crun") {
		_, err := r.cli(ctx, "start", id)
		return err
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		_, err := r.cli(ctx, "start", id)
		return err
	}
	if r.cfg.Runtime == "crun" {
		return releaseCrun(fifo, initPID)
	}
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		b, err := io.ReadAll(f)
		f.Close()
		ch <- result{b, err}
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case res := <-ch:
			if res.err != nil {
				return fmt.Errorf("start: %w", res.err)
			}
			if len(res.data) == 0 {
				return errors.New("start: the container's process exited before it could start")
			}
			if err := os.Remove(fifo); err != nil {
				return fmt.Errorf("start: %w", err)
			}
			return nil
		case <-tick.C:
			if unix.Kill(initPID, 0) != nil || ctx.Err() != nil {
				// Nothing will open the fifo for writing: unblock the
				// reader with a writer of our own that writes nothing.
				if fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
					unix.Close(fd)
				}
			}
		}
	}
}

// releaseCrun does what `crun start` does for a container without
// poststart hooks or a notify socket (kserver uses neither).
func releaseCrun(fifo string, initPID int) error {
	if unix.Kill(initPID, 0) != nil {
		return errors.New("start: the container's process exited before it could start")
	}
	// Non-blocking: with no reader (the init is gone) this fails with
	// ENXIO instead of waiting for ever.
	fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENXIO) {
		return errors.New("start: the container's process exited before it could start")
	}
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer unix.Close(fd)
	if err := os.Remove(fifo); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if _, err := unix.Write(fd, []byte{0}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return nil
}
