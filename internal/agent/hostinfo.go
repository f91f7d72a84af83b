package agent

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// machine is what a node reports about the machine it runs on.
type machine struct {
	capacity    corev1.ResourceList
	allocatable corev1.ResourceList
	// info lacks the runtime version, which comes from the runtime.
	info corev1.NodeSystemInfo
}

// Upstream's default hard eviction thresholds, which allocatable leaves
// out: memory.available<100Mi, nodefs.available<10%.
const (
	evictionMemory       = 100 << 20
	evictionNodefsPermil = 100
)

// simulatedCapacity is a simulated node's capacity where none is set.
func simulatedCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("32Gi"),
		corev1.ResourcePods:             *resource.NewQuantity(DefaultMaxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
}

// hostMachine reads the host: CPUs, memory, the data directory's file
// system, huge pages and the IDs of /etc/machine-id and the boot.
func hostMachine(dataDir string, override corev1.ResourceList) machine {
	cpu := resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI)
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:  *cpu,
		corev1.ResourcePods: *resource.NewQuantity(DefaultMaxPods, resource.DecimalSI),
	}
	mem := meminfo("MemTotal")
	capacity[corev1.ResourceMemory] = *resource.NewQuantity(mem, resource.BinarySI)
	disk, _ := diskSpace(dataDir)
	capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(disk, resource.BinarySI)
	var huge int64
	for name, bytes := range hugePages() {
		capacity[name] = *resource.NewQuantity(bytes, resource.BinarySI)
		huge += bytes
	}
	for k, v := range override {
		capacity[k] = v
	}
	alloc := capacity.DeepCopy()
	_, memSet := override[corev1.ResourceMemory]
	_, diskSet := override[corev1.ResourceEphemeralStorage]
	if m := capacity[corev1.ResourceMemory]; !memSet {
		alloc[corev1.ResourceMemory] = *resource.NewQuantity(max(m.Value()-evictionMemory-huge, 0), resource.BinarySI)
	}
	if d := capacity[corev1.ResourceEphemeralStorage]; !diskSet {
		alloc[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(d.Value()-d.Value()*evictionNodefsPermil/1000, resource.DecimalSI)
	}
	return machine{capacity: capacity, allocatable: alloc, info: corev1.NodeSystemInfo{
		MachineID:       readTrim("/etc/machine-id"),
		SystemUUID:      strings.ToLower(readTrim("/sys/class/dmi/id/product_uuid")),
		BootID:          readTrim("/proc/sys/kernel/random/boot_id"),
		KernelVersion:   readTrim("/proc/sys/kernel/osrelease"),
		OSImage:         osImage(),
		OperatingSystem: goruntime.GOOS,
		Architecture:    goruntime.GOARCH,
	}}
}

// simMachine makes up a machine for a simulated node: capacity as
// configured (allocatable the same, as kwok does), IDs derived from the
// node name so they stay put across restarts, a fresh boot ID, and the
// host's kernel and OS.
func simMachine(node string, capacity corev1.ResourceList) machine {
	c := simulatedCapacity()
	for k, v := range capacity {
		c[k] = v
	}
	sum := sha256.Sum256([]byte("kserver-sim/" + node))
	id := hex.EncodeToString(sum[:16])
	return machine{capacity: c, allocatable: c.DeepCopy(), info: corev1.NodeSystemInfo{
		MachineID:       id,
		SystemUUID:      formatUUID(sum[:16]),
		BootID:          randomUUID(),
		KernelVersion:   readTrim("/proc/sys/kernel/osrelease"),
		OSImage:         osImage(),
		OperatingSystem: goruntime.GOOS,
		Architecture:    goruntime.GOARCH,
	}}
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b[:])
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// osImage is PRETTY_NAME of /etc/os-release, as the kubelet reports it.
func osImage() string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
				f.Close()
				return strings.Trim(v, `"'`)
			}
		}
		f.Close()
	}
	return "Unknown"
}

// meminfo returns a /proc/meminfo field in bytes (0 when unknown).
func meminfo(field string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		if len(fs) > 1 && fs[1] == "kB" {
			n *= 1024
		}
		return n
	}
	return 0
}

// hugePages returns hugepages-<size> → bytes reserved, for every huge page
// size the kernel supports (0 when none are reserved), as upstream lists.
func hugePages() map[corev1.ResourceName]int64 {
	out := map[corev1.ResourceName]int64{}
	dirs, _ := filepath.Glob("/sys/kernel/mm/hugepages/hugepages-*kB")
	for _, d := range dirs {
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(d), "hugepages-"), "kB"), 10, 64)
		if err != nil {
			continue
		}
		n, _ := strconv.ParseInt(readTrim(filepath.Join(d, "nr_hugepages")), 10, 64)
		size := resource.NewQuantity(kb*1024, resource.BinarySI)
		out[corev1.ResourceName(fmt.Sprintf("%s%s", corev1.ResourceHugePagesPrefix, size.String()))] = n * kb * 1024
	}
	return out
}
