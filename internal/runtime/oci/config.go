package oci

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"time"

	"kserver.dev/kserver/internal/runtime"
)

// Defaults for Config.
const (
	DefaultRunDir      = "/run/kserver/runtime"
	DefaultStateDir    = "/var/lib/kserver/agent/runtime"
	DefaultCgroupRoot  = "/kubepods"
	DefaultLogMaxSize  = 10 << 20
	DefaultLogMaxFiles = 5
)

// Config configures the OCI runtime.
type Config struct {
	// Runtime is "runc" (default) or "crun".
	Runtime string
	// RuntimePath and ConmonPath override the binaries found in PATH.
	RuntimePath string
	ConmonPath  string
	// RunDir holds what dies with the machine: the OCI runtime's state,
	// exit files, attach sockets, pinned namespaces.
	RunDir string
	// StateDir holds what must survive a restart of kserver: sandbox and
	// container records, bundles. Usually <data-dir>/agent/runtime.
	StateDir string
	// LogRoot is where pod log directories are made when a sandbox does
	// not name its own (runtime.DefaultLogRoot).
	LogRoot string
	// CgroupRoot is the cgroup (in every hierarchy) pods go under:
	// <root>/pod<uid> for Guaranteed, <root>/burstable/pod<uid>,
	// <root>/besteffort/pod<uid>.
	CgroupRoot string
	// PauseBinary is a static busybox used as the process that holds a
	// shared PID namespace (shareProcessNamespace pods only).
	PauseBinary string
	// LogMaxSize and LogMaxFiles rotate container logs as the kubelet's
	// containerLogMaxSize/containerLogMaxFiles do.
	LogMaxSize  int64
	LogMaxFiles int
	// ResyncInterval is how often Run checks monitors and log sizes.
	ResyncInterval time.Duration
	Logger         *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Runtime == "" {
		c.Runtime = "runc"
	}
	if c.RunDir == "" {
		c.RunDir = DefaultRunDir
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.LogRoot == "" {
		c.LogRoot = runtime.DefaultLogRoot
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = DefaultCgroupRoot
	}
	if c.PauseBinary == "" {
		c.PauseBinary = "/bin/busybox"
	}
	if c.LogMaxSize == 0 {
		c.LogMaxSize = DefaultLogMaxSize
	}
	if c.LogMaxFiles == 0 {
		c.LogMaxFiles = DefaultLogMaxFiles
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate fills defaults, finds the binaries and reports what is wrong.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Runtime != "runc" && c.Runtime != "crun" {
		errs = append(errs, fmt.Errorf("runtime %q: must be runc or crun", c.Runtime))
	}
	for _, d := range []struct{ name, path string }{
		{"run dir", c.RunDir}, {"state dir", c.StateDir}, {"log root", c.LogRoot}, {"cgroup root", c.CgroupRoot},
	} {
		if !filepath.IsAbs(d.path) {
			errs = append(errs, fmt.Errorf("%s %q is not an absolute path", d.name, d.path))
		}
	}
	if c.LogMaxSize < 1024 || c.LogMaxFiles < 2 {
		errs = append(errs, fmt.Errorf("log rotation needs a max size of at least 1 KiB and at least 2 files"))
	}
	var err error
	if c.RuntimePath, err = findBinary(c.RuntimePath, c.Runtime); err != nil {
		errs = append(errs, err)
	}
	if c.ConmonPath, err = findBinary(c.ConmonPath, "conmon"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// findBinary resolves a configured path or looks name up in PATH and the
// usual system directories (kserver may run with a minimal PATH).
func findBinary(path, name string) (string, error) {
	if path != "" {
		if _, err := exec.LookPath(path); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return path, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := exec.LookPath(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed: install the %s package (scripts/setup.sh run does), or use --runtime sim", name, name)
}
