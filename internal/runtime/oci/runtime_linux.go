package oci

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"kserver.dev/kserver/internal/runtime"
)

// Runtime runs containers with runc or crun, one conmon per container.
type Runtime struct {
	cfg      Config
	log      *slog.Logger
	cg       *cgroups
	bounding map[string]bool
	version  string
	notify   runtime.Notifier

	mu         sync.Mutex // guards the maps and every record field
	sandboxes  map[string]*sandbox
	containers map[string]*container
	pending    map[podKey]bool // sandboxes being created
}

var _ runtime.Runtime = (*Runtime)(nil)

type sandbox struct {
	op  sync.Mutex // serialises create/stop/remove of this sandbox
	rec sandboxRecord
}

type container struct {
	op   sync.Mutex // serialises start/stop/remove of this container
	rec  containerRecord
	done chan struct{} // closed once the exit has been recorded
}

// Open prepares the directories, checks the host, and re-adopts the
// sandboxes and containers a previous kserver process left (they kept
// running under their monitors). It starts no goroutine; Run watches for
// exits and rotates logs.
func Open(ctx context.Context, cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("oci runtime: %w", err)
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger.With("component", "runtime", "runtime", cfg.Runtime),
		sandboxes: map[string]*sandbox{}, containers: map[string]*container{}, pending: map[podKey]bool{}}
	for _, d := range []string{filepath.Join(cfg.RunDir, "exits"), r.socketDir(), filepath.Join(cfg.RunDir, "ns"),
		filepath.Join(cfg.RunDir, "tmp"), filepath.Join(cfg.RunDir, "exec"), r.runtimeRoot(),
		filepath.Join(cfg.StateDir, "sandboxes"), filepath.Join(cfg.StateDir, "containers")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("oci runtime: %w", err)
		}
	}
	var err error
	if r.cg, err = detectCgroups(); err != nil {
		return nil, fmt.Errorf("oci runtime: %w", err)
	}
	if !r.cg.hasMemory() {
		return nil, errors.New("oci runtime: the memory cgroup controller is not available; " +
			"enable it (kernel command line cgroup_enable=memory on Raspberry Pi OS) and reboot, or use --runtime sim")
	}
	if err := r.prepareCrun(); err != nil {
		return nil, err
	}
	r.bounding = boundingCaps()
	out, err := r.cli(ctx, "--version")
	if err != nil {
		return nil, fmt.Errorf("oci runtime: %w", err)
	}
	r.version = parseVersion(string(out))
	if err := r.adopt(ctx); err != nil {
		return nil, fmt.Errorf("oci runtime: re-adopt containers: %w", err)
	}
	return r, nil
}

// Info names the runtime.
func (r *Runtime) Info(context.Context) (runtime.Info, error) {
	return runtime.Info{Name: r.cfg.Runtime, Version: r.version}, nil
}

// Watch delivers container events.
func (r *Runtime) Watch(ctx context.Context) <-chan runtime.Event { return r.notify.Watch(ctx) }

// Run records exits as conmon reports them (one inotify watch on the exit
// directory), checks the monitors and rotates logs every ResyncInterval,
// until ctx ends. Status is correct without Run (it reads the exit files
// itself); Run makes events prompt.
func (r *Runtime) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("oci runtime: watch exits: %w", err)
	}
	defer w.Close()
	if err := w.Add(filepath.Join(r.cfg.RunDir, "exits")); err != nil {
		return fmt.Errorf("oci runtime: watch exits: %w", err)
	}
	tick := time.NewTicker(r.cfg.ResyncInterval)
	defer tick.Stop()
	r.resync() // exits that happened while nothing watched
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-w.Events:
			// conmon writes "<id>.XXXXXX" and renames it to "<id>".
			if id := filepath.Base(e.Name); e.Has(fsnotify.Create) && !strings.Contains(id, ".") {
				r.mu.Lock()
				if c := r.containers[id]; c != nil {
					r.refreshLocked(c)
				}
				r.mu.Unlock()
			}
		case err := <-w.Errors:
			r.log.Warn("exit watch", "err", err)
			r.resync()
		case <-tick.C:
			r.resync()
			r.rotateLogs()
		}
	}
}

// resync refreshes every running container.
func (r *Runtime) resync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.containers {
		r.refreshLocked(c)
	}
}

// refreshLocked records an exit conmon has written, or a monitor that died
// without writing one. r.mu is held.
func (r *Runtime) refreshLocked(c *container) {
	if c.rec.State != runtime.StateRunning {
		return
	}
	if r.recordExitLocked(c) {
		return
	}
	if monitorAlive(c.rec.MonitorPID, c.rec.MonitorStart) || r.recordExitLocked(c) {
		return
	}
	// The monitor is gone and wrote no exit: nothing will ever report this
	// process again, so it must not run on unobserved.
	_, _ = r.cli(context.Background(), r.killArgs(c, "KILL")...)
	r.finishLocked(c, 255, runtime.ReasonUnknown,
		"the container's monitor (conmon) exited without recording an exit code; the container was killed", time.Now())
}

// recordExitLocked reads the exit file; false if there is none yet.
func (r *Runtime) recordExitLocked(c *container) bool {
	path := r.exitFile(c.rec.ID)
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		code = 255
	}
	when := time.Now()
	if st, err := os.Stat(path); err == nil {
		when = st.ModTime()
	}
	_, oomErr := os.Stat(filepath.Join(r.bundleDir(c.rec.ID), "oom"))
	oom := oomErr == nil || r.cg.oomKills(c.rec.Cgroup) > 0
	r.finishLocked(c, int32(code), runtime.ExitReason(int32(code), oom), "", when)
	return true
}

func (r *Runtime) finishLocked(c *container, code int32, reason, message string, when time.Time) {
	c.rec.State, c.rec.ExitCode, c.rec.Reason, c.rec.Message = runtime.StateExited, code, reason, message
	c.rec.Finished, c.rec.PID = when, 0
	if err := r.saveContainer(&c.rec); err != nil {
		r.log.Warn("save container", "container", c.rec.Config.Name, "err", err)
	}
	if c.done != nil {
		close(c.done)
		c.done = nil
	}
	r.notify.Publish(runtime.Event{Type: runtime.EventExited, ContainerID: c.rec.ID, SandboxID: c.rec.SandboxID, Time: when})
}

// newID is a random 64-hex-digit ID, the shape of upstream container IDs.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parseVersion takes "runc version 1.1.5" / "crun version 1.8.1" apart.
func parseVersion(out string) string {
	first, _, _ := strings.Cut(out, "\n")
	if _, v, ok := strings.Cut(first, "version "); ok {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(first)
}

// boundingCaps are the capabilities kserver holds and can pass on.
func boundingCaps() map[string]bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil
			}
			caps := map[string]bool{}
			for i, n := range capNames {
				if mask&(1<<uint(i)) != 0 {
					caps["CAP_"+n] = true
				}
			}
			return caps
		}
	}
	return nil
}
