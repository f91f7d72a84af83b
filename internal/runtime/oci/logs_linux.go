package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/crilog"
)

// Logs reads the CRI log file conmon writes for the container.
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions, w io.Writer) error {
	r.mu.Lock()
	c := r.containers[id]
	if c == nil || c.rec.Pause {
		r.mu.Unlock()
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	path := c.rec.LogPath
	name, attempt := c.rec.Config.Name, c.rec.Config.Attempt
	sb := r.sandboxes[c.rec.SandboxID]
	r.mu.Unlock()
	running := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.refreshLocked(c)
		return c.rec.State == runtime.StateRunning
	}
	if opts.Previous {
		// The previous attempt's file outlives its container.
		path = ""
		if attempt > 0 && sb != nil {
			path = filepath.Join(sb.rec.Config.LogDir, runtime.LogPath(name, attempt-1))
		}
		if _, err := os.Stat(path); path == "" || err != nil {
			pod := ""
			if sb != nil {
				pod = sb.rec.Config.Name
			}
			return fmt.Errorf("previous terminated container %q in pod %q not found: %w", name, pod, runtime.ErrNotFound)
		}
		running = func() bool { return false }
	}
	return crilog.ReadFile(ctx, path, opts, w, running)
}

// rotateLogs rotates the log of every running container that has grown
// past LogMaxSize: the file is renamed with a timestamp suffix (the name
// the kubelet uses), conmon is told to reopen its log (it creates a new
// file at once), and the oldest rotated files beyond LogMaxFiles go.
func (r *Runtime) rotateLogs() {
	type target struct{ log, ctl string }
	var due []target
	r.mu.Lock()
	for _, c := range r.containers {
		if c.rec.State != runtime.StateRunning || c.rec.LogPath == "" {
			continue
		}
		if st, err := os.Stat(c.rec.LogPath); err == nil && st.Size() > r.cfg.LogMaxSize {
			due = append(due, target{c.rec.LogPath, filepath.Join(r.bundleDir(c.rec.ID), "ctl")})
		}
	}
	r.mu.Unlock()
	for _, t := range due {
		if err := rotate(t.log, t.ctl, r.cfg.LogMaxFiles, time.Now()); err != nil {
			r.log.Warn("rotate container log", "file", t.log, "err", err)
		}
	}
}

func rotate(log, ctl string, maxFiles int, now time.Time) error {
	rotated := log + "." + now.UTC().Format("20060102-150405.000000000")
	if err := os.Rename(log, rotated); err != nil {
		return err
	}
	if err := writeCtl(ctl, "2 0 0\n"); err != nil {
		return fmt.Errorf("ask conmon to reopen the log: %w", err)
	}
	old, err := filepath.Glob(log + ".*")
	if err != nil {
		return err
	}
	sort.Strings(old) // the timestamp suffix sorts by age
	var errs []error
	for len(old) > maxFiles-1 {
		if err := os.Remove(old[0]); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		old = old[1:]
	}
	return errors.Join(errs...)
}

// writeCtl writes a message to conmon's control fifo: "1 <rows> <cols>"
// resizes the terminal, "2 0 0" reopens the log. The open does not block:
// without conmon reading the fifo it fails with ENXIO.
func writeCtl(path, msg string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(msg))
	return err
}
