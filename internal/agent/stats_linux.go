package agent

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// hostUsage reads the machine's CPU time (/proc/stat, the non-idle
// jiffies of all CPUs at USER_HZ 100) and memory working set: the root
// memory cgroup's usage minus inactive file pages on cgroup v1, as the
// kubelet reports it, else MemTotal − MemAvailable from /proc/meminfo.
func hostUsage() (hostStats, error) {
	var h hostStats
	h.Timestamp = time.Now()
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return h, err
	}
	cpu, boot, err := parseProcStat(stat)
	if err != nil {
		return h, err
	}
	h.CPUUsageNanos, h.boot = cpu, boot
	mi, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return h, err
	}
	m := parseMeminfo(mi)
	total, avail := m["MemTotal"], m["MemAvailable"]
	h.MemoryUsageBytes = total - min(avail, total)
	h.MemoryWorkingSetBytes = h.MemoryUsageBytes
	h.MemoryRSSBytes = m["AnonPages"]
	if usage, err := readUint("/sys/fs/cgroup/memory/memory.usage_in_bytes"); err == nil {
		ms, _ := os.ReadFile("/sys/fs/cgroup/memory/memory.stat")
		inactive := statField(ms, "total_inactive_file")
		h.MemoryUsageBytes = usage
		h.MemoryWorkingSetBytes = usage - min(inactive, usage)
		if rss := statField(ms, "total_rss"); rss > 0 {
			h.MemoryRSSBytes = rss
		}
	}
	h.available = total - min(h.MemoryWorkingSetBytes, total)
	return h, nil
}

// parseProcStat returns the CPU time used (all but idle and iowait, in
// nanoseconds) and the boot time.
func parseProcStat(b []byte) (uint64, time.Time, error) {
	var cpu uint64
	var boot time.Time
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 4 && f[0] == "cpu":
			for i, v := range f[1:] {
				if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
					continue
				}
				n, _ := strconv.ParseUint(v, 10, 64)
				cpu += n
			}
			found = true
		case len(f) == 2 && f[0] == "btime":
			if s, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				boot = time.Unix(s, 0)
			}
		}
	}
	if !found {
		return 0, boot, errors.New("/proc/stat has no cpu line")
	}
	return cpu * uint64(time.Second/100), boot, nil
}

// parseMeminfo reads /proc/meminfo into bytes by key.
func parseMeminfo(b []byte) map[string]uint64 {
	out := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		out[k] = n
	}
	return out
}

func statField(b []byte, key string) uint64 {
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}
