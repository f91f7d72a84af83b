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
// what `<runtime> start` does. For runc it does so directly: runc's init
// waits to open <root>/<id>/exec.fifo for writing; `runc start` opens it
// for reading, reads the byte init writes and removes the fifo (whose
// absence is what makes runc report "running"). Doing those three steps
// here saves starting the runc binary, a Go program, once per container —
// the largest single cost kserver adds to a container start. If the fifo
// is not where runc 1.x keeps it, or for crun (whose start protocol
// differs, and whose binary starts fast), the runtime's start command runs.
func (r *Runtime) release(ctx context.Context, id string, initPID int) error {
	fifo := filepath.Join(r.runtimeRoot(), id, "exec.fifo")
	if r.cfg.Runtime != "runc" || initPID <= 0 {
		_, err := r.cli(ctx, "start", id)
		return err
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		_, err := r.cli(ctx, "start", id)
		return err
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
