package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"kserver.dev/kserver/internal/runtime"
)

// sandboxRecord is a sandbox as kept in <state>/sandboxes/<id>/sandbox.json.
type sandboxRecord struct {
	ID      string
	Config  runtime.SandboxConfig
	Created time.Time
	State   runtime.SandboxState
	// NetNS is the network namespace containers join ("" = the host's);
	// OwnNetNS says the runtime made it (and removes it).
	NetNS    string
	OwnNetNS bool
	// IPCNS and UTSNS are namespaces the runtime pinned ("" = the host's).
	IPCNS string
	UTSNS string
	// Cgroup is the pod-level cgroup path.
	Cgroup string
	// PauseID is the container holding the shared PID namespace, if any.
	PauseID string
	// ShmMounted says <dir>/shm is a tmpfs the runtime mounted.
	ShmMounted bool
}

// containerRecord is a container as kept in <state>/containers/<id>/container.json.
type containerRecord struct {
	ID        string
	SandboxID string
	Config    runtime.ContainerConfig
	Created   time.Time
	Started   time.Time
	Finished  time.Time
	State     runtime.ContainerState
	PID       int
	// Monitor is conmon's PID and its start time (clock ticks since boot,
	// /proc/<pid>/stat field 22), which together survive PID reuse.
	MonitorPID   int
	MonitorStart uint64
	ExitCode     int32
	Reason       string
	Message      string
	LogPath      string
	Cgroup       string
	// RootfsMounted says the runtime mounted Config.Rootfs.Mounts on
	// <bundle>/rootfs (and unmounts them on removal).
	RootfsMounted bool
	// Pause marks the hidden process holding a shared PID namespace.
	Pause bool
}

func (r *Runtime) sandboxDir(id string) string   { return filepath.Join(r.cfg.StateDir, "sandboxes", id) }
func (r *Runtime) bundleDir(id string) string    { return filepath.Join(r.cfg.StateDir, "containers", id) }
func (r *Runtime) exitFile(id string) string     { return filepath.Join(r.cfg.RunDir, "exits", id) }
func (r *Runtime) nsDir(sandboxID string) string { return filepath.Join(r.cfg.RunDir, "ns", sandboxID) }
func (r *Runtime) runtimeRoot() string           { return filepath.Join(r.cfg.RunDir, r.cfg.Runtime) }
func (r *Runtime) socketDir() string             { return filepath.Join(r.cfg.RunDir, "s") }

// writeJSON replaces path atomically (write to a temporary file, rename).
// There is no fsync: everything it describes dies with the machine anyway.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func (r *Runtime) saveSandbox(sb *sandboxRecord) error {
	return writeJSON(filepath.Join(r.sandboxDir(sb.ID), "sandbox.json"), sb)
}

func (r *Runtime) saveContainer(c *containerRecord) error {
	return writeJSON(filepath.Join(r.bundleDir(c.ID), "container.json"), c)
}

// loadRecords reads every sandbox and container record. Unreadable
// records are reported and skipped; a directory without a record is a
// creation that crashed half-way and is returned for cleanup.
func (r *Runtime) loadRecords() (sbs []*sandboxRecord, cs []*containerRecord, orphans []string, err error) {
	var errs []error
	for _, kind := range []string{"sandboxes", "containers"} {
		dir := filepath.Join(r.cfg.StateDir, kind)
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("read %s: %w", dir, err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			var rerr error
			if kind == "sandboxes" {
				sb := &sandboxRecord{}
				if rerr = readJSON(filepath.Join(dir, e.Name(), "sandbox.json"), sb); rerr == nil {
					sbs = append(sbs, sb)
				}
			} else {
				c := &containerRecord{}
				if rerr = readJSON(filepath.Join(dir, e.Name(), "container.json"), c); rerr == nil {
					cs = append(cs, c)
				}
			}
			switch {
			case errors.Is(rerr, os.ErrNotExist):
				orphans = append(orphans, filepath.Join(dir, e.Name()))
			case rerr != nil:
				errs = append(errs, rerr)
			}
		}
	}
	return sbs, cs, orphans, errors.Join(errs...)
}

// loadSeccomp reads a Localhost seccomp profile (OCI/Docker JSON).
func loadSeccomp(path string) (*specs.LinuxSeccomp, error) {
	sc := &specs.LinuxSeccomp{}
	if err := readJSON(path, sc); err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w: %w", path, err, runtime.ErrInvalidConfig)
	}
	return sc, nil
}
