package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPU       string
	Cores     int
	MemoryGiB float64
	Kernel    string
	Go        string
	OS        string
	DataDir   string
	FS        string        // file system type of the data directory
	FsyncP50  time.Duration // 4 KiB write + fsync in the data directory
	FsyncP99  time.Duration
	// The same probe after the benchmarks, since a shared machine's disk
	// can change its mind in the meantime.
	FsyncEndP50, FsyncEndP99 time.Duration
	LoadAvg                  string // 1, 5 and 15 minute load averages when the run began
	When                     time.Time
}

// DescribeMachine reads /proc for the CPU, memory and kernel.
func DescribeMachine(dir string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), DataDir: dir, When: time.Now().UTC(), CPU: "unknown"}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
		m.MemoryGiB = kb / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if v := procField("/etc/os-release", "PRETTY_NAME"); v != "" {
		m.OS = strings.Trim(v, `"`)
	}
	m.FS = fsType(dir)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// procField returns the value of the first "name: value" or name=value line.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, sep := range []string{":", "="} {
			if k, v, ok := strings.Cut(line, sep); ok && strings.TrimSpace(k) == name {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

// fsType finds the mount holding dir in /proc/mounts (longest prefix).
func fsType(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return ""
	}
	best, typ := "", ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(dir, f[1]) && len(f[1]) > len(best) {
			best, typ = f[1], f[0]+" ("+f[2]+")"
		}
	}
	return typ
}

// MeasureFsync writes 4 KiB and fsyncs it n times in dir, the cost every
// durable commit pays; datastore figures should be read against it.
func MeasureFsync(dir string, n int) (p50, p99 time.Duration, err error) {
	f, err := os.CreateTemp(dir, "fsync-*")
	if err != nil {
		return 0, 0, fmt.Errorf("fsync probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		buf[0] = byte(i)
		start := time.Now()
		if _, err := f.WriteAt(buf, int64(i%64)*4096); err != nil {
			return 0, 0, fmt.Errorf("fsync probe: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, 0, fmt.Errorf("fsync probe: %w", err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], nil
}

// Markdown renders the machine section of docs/benchmarks.md.
func (m Machine) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Measured | %s |\n", m.When.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "| CPU | %s, %d cores |\n", m.CPU, m.Cores)
	fmt.Fprintf(&b, "| Memory | %.1f GiB |\n", m.MemoryGiB)
	fmt.Fprintf(&b, "| OS / kernel | %s / %s |\n", m.OS, m.Kernel)
	fmt.Fprintf(&b, "| Go | %s |\n", m.Go)
	fmt.Fprintf(&b, "| Load average at start (1/5/15 min) | %s |\n", m.LoadAvg)
	fmt.Fprintf(&b, "| Data directory | `%s` on %s |\n", filepath.Clean(m.DataDir), m.FS)
	fmt.Fprintf(&b, "| fsync (4 KiB write + fsync), before the run | p50 %.3f ms, p99 %.3f ms |\n", ms(m.FsyncP50), ms(m.FsyncP99))
	if m.FsyncEndP50 > 0 {
		fmt.Fprintf(&b, "| fsync, after the run | p50 %.3f ms, p99 %.3f ms |\n", ms(m.FsyncEndP50), ms(m.FsyncEndP99))
	}
	return b.String()
}
