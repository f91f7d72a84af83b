package oci

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// Check reports whether this host can run containers with cfg, one line
// per requirement, each failing one with what to do. It changes nothing;
// `kserver check-config` prints it.
func Check(ctx context.Context, cfg Config) []runtime.CheckResult {
	cfg.setDefaults()
	var out []runtime.CheckResult
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, runtime.CheckResult{Name: name, OK: ok, Message: fmt.Sprintf(format, args...)})
	}
	for _, bin := range []struct{ name, path string }{{cfg.Runtime, cfg.RuntimePath}, {"conmon", cfg.ConmonPath}} {
		p, err := findBinary(bin.path, bin.name)
		if err != nil {
			add(bin.name, false, "%v", err)
			continue
		}
		v, err := exec.CommandContext(ctx, p, "--version").Output()
		if err != nil {
			add(bin.name, false, "%s --version failed: %v; reinstall the %s package", p, err, bin.name)
			continue
		}
		add(bin.name, true, "%s, version %s", p, parseVersion(string(v)))
	}
	cg, err := detectCgroups()
	if err != nil {
		add("cgroups", false, "%v", err)
		return out
	}
	add("cgroups", true, "%s, cgroupfs driver", cg.mode())
	if cg.hasMemory() {
		add("memory cgroup", true, "enabled")
	} else {
		add("memory cgroup", false, "not enabled: memory limits and OOM detection need it; add cgroup_enable=memory "+
			"cgroup_memory=1 to the kernel command line (/boot/cmdline.txt on Raspberry Pi OS) and reboot")
	}
	for _, c := range []string{"cpu", "pids"} {
		if cg.v2 || cg.v1[c] != "" {
			add(c+" cgroup", true, "enabled")
		} else {
			add(c+" cgroup", false, "not mounted: %s limits of pods will not apply", c)
		}
	}
	if cfg.Runtime == "crun" {
		if ctrls := hybridControllers(cg); len(ctrls) > 0 {
			add("crun on hybrid cgroups", true, "cgroup2 holds %s, which crun refuses on a hybrid host; at start kserver "+
				"moves it to a cgroup v1 hierarchy (mount -t cgroup -o %s cgroup /sys/fs/cgroup/%s), which lasts until reboot; "+
				"use --runtime runc to avoid this", strings.Join(ctrls, ","), ctrls[0], ctrls[0])
		} else {
			add("crun on hybrid cgroups", true, "no controller on cgroup2; crun can run")
		}
	}
	if !boundingCaps()["CAP_SYS_RESOURCE"] {
		add("oom_score_adj", true, "kserver lacks CAP_SYS_RESOURCE: negative OOM score adjustments are raised to 0")
	}
	if _, err := os.Stat(cfg.PauseBinary); err != nil {
		add("busybox", false, "%s is missing: pods with shareProcessNamespace cannot start; install busybox-static", cfg.PauseBinary)
	} else {
		add("busybox", true, "%s holds shared PID namespaces", cfg.PauseBinary)
	}
	return out
}

// hybridControllers are the controllers bound to cgroup2 on a hybrid host.
func hybridControllers(cg *cgroups) []string {
	if cg.v2 || cg.unified == "" {
		return nil
	}
	b, _ := os.ReadFile(filepath.Join(cg.unified, "cgroup.controllers"))
	return strings.Fields(string(b))
}

// prepareCrun makes a hybrid host usable by crun, which refuses to run
// while any controller is bound to the cgroup2 hierarchy (on this machine
// class: hugetlb). Each such controller is mounted as a v1 hierarchy,
// which moves it off cgroup2 until reboot; nothing in a pod uses hugetlb.
func (r *Runtime) prepareCrun() error {
	if r.cfg.Runtime != "crun" {
		return nil
	}
	ctrls := hybridControllers(r.cg)
	for _, c := range ctrls {
		dir := filepath.Join(filepath.Dir(r.cg.unified), c)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("crun: move %s off cgroup2: %w; use --runtime runc", c, err)
		}
		if err := unix.Mount("cgroup", dir, "cgroup", 0, c); err != nil {
			return fmt.Errorf("crun refuses hybrid cgroups while %s is bound to cgroup2, and mounting it as a v1 "+
				"hierarchy at %s failed: %w; use --runtime runc", c, dir, err)
		}
		r.log.Info("moved a cgroup controller off cgroup2 so that crun can run (lasts until reboot)", "controller", c, "mount", dir)
	}
	if len(ctrls) == 0 {
		return nil
	}
	if left := hybridControllers(r.cg); len(left) > 0 {
		return fmt.Errorf("crun refuses hybrid cgroups while %s is bound to cgroup2; use --runtime runc", strings.Join(left, ","))
	}
	cg, err := detectCgroups()
	if err != nil {
		return err
	}
	r.cg = cg
	return nil
}
