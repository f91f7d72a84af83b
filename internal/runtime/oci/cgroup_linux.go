package oci

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// cgroups is the host's cgroup layout, read once from mountinfo: v1 (each
// controller on its own hierarchy, as on this machine class, or
// co-mounted), hybrid (v1 plus a cgroup2 mount) or v2 (unified only). The
// OCI runtime creates and limits container cgroups from the spec; this
// driver makes the pod-level cgroups above them, reads usage and OOM
// counters, and removes what is left.
type cgroups struct {
	v2      bool              // pure unified hierarchy
	v1      map[string]string // controller ("memory", "name=systemd") → mount point
	unified string            // cgroup2 mount point ("" if none)
	memsw   bool              // v1 swap accounting (memory.memsw.*)
}

// podControllers are the v1 hierarchies the pod cgroup is made in: those
// with limits or accounting, and the systemd one for process tracking.
// The OCI runtime fills in the rest (cpuset needs its values copied down,
// which runc and crun do) below the pod.
var podControllers = []string{"memory", "cpu", "cpuacct", "pids", "name=systemd"}

func detectCgroups() (*cgroups, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	cg := &cgroups{v1: map[string]string{}}
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		switch g[0] {
		case "cgroup2":
			if cg.unified == "" {
				cg.unified = f[4]
			}
		case "cgroup":
			for _, opt := range strings.Split(g[2], ",") {
				if opt != "rw" && opt != "ro" && !strings.HasPrefix(opt, "release_agent") && opt != "clone_children" {
					if _, dup := cg.v1[opt]; !dup {
						cg.v1[opt] = f[4]
					}
				}
			}
		}
	}
	switch {
	case len(cg.v1) == 0 && cg.unified == "":
		return nil, errors.New("no cgroup filesystem is mounted: mount cgroup2 on /sys/fs/cgroup (or the v1 controllers) and retry")
	case len(cg.v1) == 0:
		cg.v2 = true
	}
	if m := cg.v1["memory"]; m != "" {
		_, err := os.Stat(filepath.Join(m, "memory.memsw.limit_in_bytes"))
		cg.memsw = err == nil
	}
	return cg, nil
}

// mode names the layout for messages.
func (cg *cgroups) mode() string {
	switch {
	case cg.v2:
		return "v2"
	case cg.unified != "":
		return "v1 (hybrid)"
	}
	return "v1"
}

// hasMemory reports whether the memory controller is usable.
func (cg *cgroups) hasMemory() bool {
	if cg.v2 {
		b, _ := os.ReadFile(filepath.Join(cg.unified, "cgroup.controllers"))
		return bytes.Contains(b, []byte("memory"))
	}
	return cg.v1["memory"] != ""
}

// podDirs are the directories of a pod cgroup path the driver makes.
func (cg *cgroups) podDirs(path string) []string {
	if cg.v2 {
		return []string{filepath.Join(cg.unified, path)}
	}
	var dirs []string
	seen := map[string]bool{}
	for _, c := range podControllers {
		if m := cg.v1[c]; m != "" && !seen[m] {
			seen[m] = true
			dirs = append(dirs, filepath.Join(m, path))
		}
	}
	return dirs
}

// allDirs are the directories of path in every hierarchy.
func (cg *cgroups) allDirs(path string) []string {
	seen := map[string]bool{}
	var dirs []string
	add := func(m string) {
		if m != "" && !seen[m] {
			seen[m] = true
			dirs = append(dirs, filepath.Join(m, path))
		}
	}
	for _, m := range cg.v1 {
		add(m)
	}
	add(cg.unified)
	return dirs
}

// createPod makes a pod cgroup with the pod's limits.
func (cg *cgroups) createPod(path string, res runtime.Resources) error {
	if cg.v2 {
		return cg.createPodV2(path, res)
	}
	for _, d := range cg.podDirs(path) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", d, err)
		}
	}
	shares, quota := cpuShares(res.CPURequestMilli), cpuQuota(res.CPULimitMilli)
	writes := []struct{ ctrl, file, val string }{
		{"cpu", "cpu.shares", strconv.FormatUint(shares, 10)},
	}
	if quota > 0 {
		writes = append(writes,
			struct{ ctrl, file, val string }{"cpu", "cpu.cfs_period_us", strconv.Itoa(cpuPeriod)},
			struct{ ctrl, file, val string }{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)})
	}
	if res.MemoryLimitBytes > 0 {
		writes = append(writes, struct{ ctrl, file, val string }{"memory", "memory.limit_in_bytes", strconv.FormatInt(res.MemoryLimitBytes, 10)})
	}
	if res.PidsLimit > 0 {
		writes = append(writes, struct{ ctrl, file, val string }{"pids", "pids.max", strconv.FormatInt(res.PidsLimit, 10)})
	}
	for _, w := range writes {
		if m := cg.v1[w.ctrl]; m != "" {
			if err := writeFile(filepath.Join(m, path, w.file), w.val); err != nil {
				return err
			}
		}
	}
	return nil
}

func (cg *cgroups) createPodV2(path string, res runtime.Resources) error {
	dir := filepath.Join(cg.unified, path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	// Enable the controllers on the way down, as v2 requires, including in
	// the pod itself for the containers below it.
	avail, _ := os.ReadFile(filepath.Join(cg.unified, "cgroup.controllers"))
	var enable []string
	for _, c := range strings.Fields(string(avail)) {
		if c == "cpu" || c == "memory" || c == "pids" || c == "io" || c == "cpuset" || c == "hugetlb" {
			enable = append(enable, "+"+c)
		}
	}
	rel := strings.Split(strings.Trim(path, "/"), "/")
	cur := cg.unified
	for _, part := range rel {
		if len(enable) > 0 {
			_ = writeFile(filepath.Join(cur, "cgroup.subtree_control"), strings.Join(enable, " "))
		}
		cur = filepath.Join(cur, part)
	}
	if len(enable) > 0 {
		_ = writeFile(filepath.Join(dir, "cgroup.subtree_control"), strings.Join(enable, " "))
	}
	weight := 1 + ((cpuShares(res.CPURequestMilli)-2)*9999)/262142
	if err := writeFile(filepath.Join(dir, "cpu.weight"), strconv.FormatUint(weight, 10)); err != nil {
		return err
	}
	if q := cpuQuota(res.CPULimitMilli); q > 0 {
		if err := writeFile(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d %d", q, cpuPeriod)); err != nil {
			return err
		}
	}
	if res.MemoryLimitBytes > 0 {
		if err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatInt(res.MemoryLimitBytes, 10)); err != nil {
			return err
		}
	}
	if res.PidsLimit > 0 {
		return writeFile(filepath.Join(dir, "pids.max"), strconv.FormatInt(res.PidsLimit, 10))
	}
	return nil
}

// monitorProcs are the cgroup.procs files a container monitor is moved
// into. On v1 that is the pod cgroup in the memory hierarchy (its few
// hundred KiB are the pod's) and the name=systemd one (so that a service
// manager restarting kserver does not count the monitors as kserver's) —
// but not cpu: the OCI runtime's create runs as the monitor's child, and in
// a pod cgroup with the minimum CPU weight (a pod without CPU requests) it
// starves on a busy machine. Nor pids, whose pod limit must not count
// the runtime's threads. On v2, where one cgroup holds all controllers,
// monitors go to a cgroup of their own beside the pods.
func (cg *cgroups) monitorProcs(podPath, root string) []string {
	if cg.v2 {
		dir := filepath.Join(cg.unified, filepath.Dir(root), "kserver-monitors")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil
		}
		return []string{filepath.Join(dir, "cgroup.procs")}
	}
	var files []string
	for _, c := range []string{"memory", "name=systemd"} {
		if m := cg.v1[c]; m != "" {
			files = append(files, filepath.Join(m, podPath, "cgroup.procs"))
		}
	}
	return files
}

// remove deletes path (which must have no children left) in every
// hierarchy. A cgroup whose last process exited a
// moment ago can still be busy, so EBUSY is retried briefly.
func (cg *cgroups) remove(path string) error {
	var errs []error
	for _, d := range cg.allDirs(path) {
		var err error
		for i := 0; i < 50; i++ {
			if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			if !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// usage reads a cgroup's CPU and memory usage.
func (cg *cgroups) usage(path string) (runtime.Usage, error) {
	u := runtime.Usage{Timestamp: time.Now()}
	var inactive uint64
	if cg.v2 {
		dir := filepath.Join(cg.unified, path)
		stat, err := readKV(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			return u, err
		}
		u.CPUUsageNanos = stat["usage_usec"] * 1000
		if u.MemoryUsageBytes, err = readUint(filepath.Join(dir, "memory.current")); err != nil {
			return u, err
		}
		mem, err := readKV(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return u, err
		}
		inactive, u.MemoryRSSBytes = mem["inactive_file"], mem["anon"]
	} else {
		var err error
		if u.CPUUsageNanos, err = readUint(filepath.Join(cg.v1["cpuacct"], path, "cpuacct.usage")); err != nil {
			return u, err
		}
		memDir := filepath.Join(cg.v1["memory"], path)
		if u.MemoryUsageBytes, err = readUint(filepath.Join(memDir, "memory.usage_in_bytes")); err != nil {
			return u, err
		}
		mem, err := readKV(filepath.Join(memDir, "memory.stat"))
		if err != nil {
			return u, err
		}
		inactive, u.MemoryRSSBytes = mem["total_inactive_file"], mem["total_rss"]
	}
	u.MemoryWorkingSetBytes = u.MemoryUsageBytes
	if inactive < u.MemoryWorkingSetBytes {
		u.MemoryWorkingSetBytes -= inactive
	} else {
		u.MemoryWorkingSetBytes = 0
	}
	return u, nil
}

// oomKills is the cgroup's OOM kill counter (0 when unreadable).
func (cg *cgroups) oomKills(path string) uint64 {
	var file string
	if cg.v2 {
		file = filepath.Join(cg.unified, path, "memory.events")
	} else if m := cg.v1["memory"]; m != "" {
		file = filepath.Join(m, path, "memory.oom_control")
	}
	kv, err := readKV(file)
	if err != nil {
		return 0
	}
	return kv["oom_kill"]
}

const cpuPeriod = 100000 // µs, the CFS default the kubelet uses

// cpuShares converts a CPU request to cgroup v1 shares as the kubelet does.
func cpuShares(milli int64) uint64 {
	if milli <= 0 {
		return 2
	}
	s := uint64(milli) * 1024 / 1000
	return max(s, 2)
}

// cpuQuota converts a CPU limit to a CFS quota for cpuPeriod (0 = none).
func cpuQuota(milli int64) int64 {
	if milli <= 0 {
		return 0
	}
	return max(milli*cpuPeriod/1000, 1000)
}

func writeFile(path, val string) error {
	if err := os.WriteFile(path, []byte(val), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return n, nil
}

// readKV reads a "key value" per line file (memory.stat, cpu.stat, …).
func readKV(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	kv := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			kv[k] = n
		}
	}
	return kv, sc.Err()
}
