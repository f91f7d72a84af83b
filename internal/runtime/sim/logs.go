package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/crilog"
)

// logView is a snapshot of what a container's simulated log depends on.
// Lines are numbered: first the start lines, then "tick N" every interval
// while it ran; line i's content and time follow from the snapshot alone.
type logView struct {
	lines    []string
	interval time.Duration
	ran      bool // false when it never started (StartError)
	started  time.Time
	end      time.Time // finished, or "now" while running
	running  bool
	done     <-chan struct{}
}

func (r *Runtime) viewLocked(c *container) logView {
	v := logView{lines: c.script.log, interval: c.script.logInterval, started: c.started,
		running: c.state == runtime.StateRunning, done: c.doneLocked()}
	v.ran = !c.started.IsZero() && c.reason != runtime.ReasonStartError
	if v.running {
		v.end = r.clock.Now()
	} else {
		v.end = c.finished
	}
	return v
}

// count is the number of lines logged by v.end.
func (v *logView) count() int64 {
	if !v.ran {
		return 0
	}
	n := int64(len(v.lines))
	if v.interval > 0 && v.end.After(v.started) {
		n += int64(v.end.Sub(v.started) / v.interval)
	}
	return n
}

func (v *logView) entry(i int64) crilog.Entry {
	if i < int64(len(v.lines)) {
		return crilog.Entry{Time: v.started, Stream: crilog.Stdout, Content: []byte(v.lines[i])}
	}
	k := i - int64(len(v.lines)) + 1
	return crilog.Entry{Time: v.started.Add(time.Duration(k) * v.interval), Stream: crilog.Stdout,
		Content: []byte("tick " + strconv.FormatInt(k, 10))}
}

// Logs writes the container's simulated log.
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions, w io.Writer) error {
	r.mu.Lock()
	c, ok := r.containers[id]
	if ok && opts.Previous {
		c, ok = r.previousLocked(c)
		if !ok {
			r.mu.Unlock()
			return fmt.Errorf("previous terminated container %q in pod %q not found: %w",
				c.cfg.Name, c.sandbox.cfg.Name, runtime.ErrNotFound)
		}
	}
	if !ok {
		r.mu.Unlock()
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	v := r.viewLocked(c)
	r.mu.Unlock()

	out := crilog.NewOutput(w, opts)
	next := int64(0)
	if opts.TailLines != nil && *opts.TailLines >= 0 {
		next = max(0, v.count()-*opts.TailLines)
	}
	for {
		for n := v.count(); next < n; next++ {
			if err := out.Write(v.entry(next)); err != nil {
				if errors.Is(err, crilog.ErrLimitReached) {
					return nil
				}
				return err
			}
		}
		if !opts.Follow || !v.running {
			return nil
		}
		var tick <-chan time.Time
		var t clock.Timer
		if v.interval > 0 {
			t = r.clock.NewTimer(v.entry(next).Time.Sub(r.clock.Now()))
			tick = t.C()
		}
		select {
		case <-ctx.Done():
		case <-v.done:
		case <-tick:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		r.mu.Lock()
		v = r.viewLocked(c)
		r.mu.Unlock()
	}
}

// previousLocked finds the attempt before c: a container still known, or
// the last one removed under that name.
func (r *Runtime) previousLocked(c *container) (*container, bool) {
	if c.cfg.Attempt == 0 {
		return c, false
	}
	want := c.cfg.Attempt - 1
	for _, o := range c.sandbox.containers {
		if o.cfg.Name == c.cfg.Name && o.cfg.Attempt == want {
			return o, true
		}
	}
	if o := c.sandbox.removed[c.cfg.Name]; o != nil && o.cfg.Attempt == want {
		return o, true
	}
	return c, false
}
