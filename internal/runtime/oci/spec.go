package oci

import (
	"fmt"
	"path"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"kserver.dev/kserver/internal/runtime"
)

// specVersion is the OCI runtime spec version written into config.json: the
// one runc 1.1 and crun 1.8 implement.
const specVersion = "1.0.2"

// defaultPath is PATH for a process whose environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// capNames are the Linux capabilities by number.
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
	"LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE",
}

// defaultCaps is the capability set of an unprivileged container, the one
// container runtimes have long given by default.
var defaultCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
	"NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}

// maskedPaths and readonlyPaths hide or freeze kernel interfaces a
// container has no business with (not applied to privileged containers).
var (
	maskedPaths = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap"}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// specInput is everything a container's config.json is made from.
type specInput struct {
	cfg         *runtime.ContainerConfig
	sandbox     *sandboxRecord
	files       sandboxFiles
	rootfs      string
	user        user
	cgroupsPath string
	pidNS       string // PID namespace to join; "" = a new one (or the host's with HostPID)
	memsw       bool   // v1 swap accounting present: set swap = limit
	bounding    map[string]bool
	hostDevices []specs.LinuxDevice // for privileged containers
}

// sandboxFiles are the per-pod files every container gets.
type sandboxFiles struct {
	hostname, resolv, hosts, shm string
}

// buildSpec makes the OCI runtime config of a container.
func buildSpec(in *specInput) (*specs.Spec, error) {
	c, sb := in.cfg, in.sandbox
	caps, err := capabilities(&c.Security, in.bounding)
	if err != nil {
		return nil, err
	}
	s := &specs.Spec{
		Version: specVersion,
		Root:    &specs.Root{Path: in.rootfs, Readonly: c.Security.ReadOnlyRootfs},
		Process: &specs.Process{
			Terminal: c.TTY,
			User:     specs.User{UID: in.user.uid, GID: in.user.gid, AdditionalGids: in.user.additional},
			Args:     c.Command,
			Env:      processEnv(c, sb.hostname()),
			Cwd:      c.WorkingDir,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			NoNewPrivileges: c.Security.NoNewPrivileges && !c.Security.Privileged,
		},
		Mounts: mounts(in),
		Linux: &specs.Linux{
			CgroupsPath: in.cgroupsPath,
			Namespaces:  namespaces(in),
			Resources:   resources(in),
			Sysctl:      sb.Config.Sysctls,
		},
	}
	if s.Process.Cwd == "" {
		s.Process.Cwd = "/"
	}
	if adj := min(max(c.Resources.OOMScoreAdj, 0), 1000); adj > 0 {
		s.Process.OOMScoreAdj = &adj
	}
	if c.Security.Privileged {
		s.Linux.Devices = in.hostDevices
	} else {
		s.Linux.ReadonlyPaths = readonlyPaths
		if !c.Security.UnmaskedProc {
			s.Linux.MaskedPaths = maskedPaths
		}
	}
	switch {
	case c.Security.Privileged || c.Security.Seccomp == "" || c.Security.Seccomp == runtime.SeccompUnconfined:
	case c.Security.Seccomp == runtime.SeccompRuntimeDefault:
		s.Linux.Seccomp = defaultSeccomp(caps)
	case c.Security.Seccomp == runtime.SeccompLocalhost:
		if s.Linux.Seccomp, err = loadSeccomp(c.Security.SeccompProfile); err != nil {
			return nil, err
		}
	}
	for _, m := range c.Mounts {
		switch m.Propagation {
		case runtime.PropagationBidirectional:
			s.Linux.RootfsPropagation = "rshared"
		case runtime.PropagationHostToContainer:
			if s.Linux.RootfsPropagation == "" {
				s.Linux.RootfsPropagation = "rslave"
			}
		}
	}
	return s, nil
}

func (sb *sandboxRecord) hostname() string {
	if sb.Config.Hostname != "" {
		return sb.Config.Hostname
	}
	return sb.Config.Name
}

// processEnv is the container's environment with the defaults a process
// expects: PATH, HOSTNAME, and TERM on a terminal.
func processEnv(c *runtime.ContainerConfig, hostname string) []string {
	env := append([]string(nil), c.Env...)
	has := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		has[k] = true
	}
	if !has["PATH"] {
		env = append(env, "PATH="+defaultPath)
	}
	if !has["HOSTNAME"] {
		env = append(env, "HOSTNAME="+hostname)
	}
	if c.TTY && !has["TERM"] {
		env = append(env, "TERM=xterm")
	}
	return env
}

// capabilities applies the security context to the default set, the way
// Kubernetes defines it: drop ALL empties the set before adds, add ALL (or
// privileged) gives every capability. Capabilities kserver itself does not
// hold cannot be granted and are left out.
func capabilities(sec *runtime.Security, bounding map[string]bool) ([]string, error) {
	set := map[string]bool{}
	all := sec.Privileged
	for _, a := range sec.CapAdd {
		all = all || strings.EqualFold(a, "ALL")
	}
	dropAll := false
	for _, d := range sec.CapDrop {
		dropAll = dropAll || strings.EqualFold(d, "ALL")
	}
	switch {
	case all:
		for _, n := range capNames {
			set[n] = true
		}
	case !dropAll:
		for _, n := range defaultCaps {
			set[n] = true
		}
	}
	norm := func(n string) (string, error) {
		n = strings.TrimPrefix(strings.ToUpper(n), "CAP_")
		for _, k := range capNames {
			if k == n {
				return n, nil
			}
		}
		return "", fmt.Errorf("unknown capability %q: %w", n, runtime.ErrInvalidConfig)
	}
	if !sec.Privileged {
		for _, d := range sec.CapDrop {
			if !strings.EqualFold(d, "ALL") {
				n, err := norm(d)
				if err != nil {
					return nil, err
				}
				delete(set, n)
			}
		}
	}
	for _, a := range sec.CapAdd {
		if !strings.EqualFold(a, "ALL") {
			n, err := norm(a)
			if err != nil {
				return nil, err
			}
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for _, n := range capNames {
		if set[n] && (bounding == nil || bounding["CAP_"+n]) {
			out = append(out, "CAP_"+n)
		}
	}
	return out, nil
}

// namespaces are new pid and mount namespaces, and the sandbox's network,
// IPC and UTS namespaces joined by path; a host namespace is left out.
func namespaces(in *specInput) []specs.LinuxNamespace {
	sb := in.sandbox
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if !sb.Config.HostPID {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: in.pidNS})
	}
	if sb.NetNS != "" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.NetNS})
	}
	if sb.IPCNS != "" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: sb.IPCNS})
	}
	if sb.UTSNS != "" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.UTSNamespace, Path: sb.UTSNS})
	}
	return ns
}

// mounts are the standard container filesystems, the pod's shared files
// and the container's own mounts (parents before children).
func mounts(in *specInput) []specs.Mount {
	c := in.cfg
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	if c.Security.Privileged {
		sysOpts = []string{"nosuid", "noexec", "nodev"}
	}
	fileOpts := []string{"rbind", "rprivate"}
	if c.Security.ReadOnlyRootfs {
		fileOpts = append(fileOpts, "ro")
	}
	std := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{Destination: "/dev/shm", Type: "bind", Source: in.files.shm, Options: []string{"rbind", "nosuid", "nodev", "noexec"}},
		{Destination: "/etc/hostname", Type: "bind", Source: in.files.hostname, Options: fileOpts},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: in.files.resolv, Options: fileOpts},
		{Destination: "/etc/hosts", Type: "bind", Source: in.files.hosts, Options: fileOpts},
	}
	own := map[string]bool{}
	for _, m := range c.Mounts {
		own[path.Clean(m.ContainerPath)] = true
	}
	var out []specs.Mount
	for _, m := range std {
		if !own[m.Destination] {
			out = append(out, m)
		}
	}
	user := append([]runtime.Mount(nil), c.Mounts...)
	sort.SliceStable(user, func(i, j int) bool { return depth(user[i].ContainerPath) < depth(user[j].ContainerPath) })
	for _, m := range user {
		out = append(out, userMount(m))
	}
	return out
}

func userMount(m runtime.Mount) specs.Mount {
	if m.Type == runtime.MountTmpfs {
		opts := []string{"nosuid", "nodev", "mode=1777"}
		if m.SizeBytes > 0 {
			opts = append(opts, fmt.Sprintf("size=%d", m.SizeBytes))
		}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: path.Clean(m.ContainerPath), Type: "tmpfs", Source: "tmpfs", Options: opts}
	}
	opts := []string{"rbind"}
	switch m.Propagation {
	case runtime.PropagationBidirectional:
		opts = append(opts, "rshared")
	case runtime.PropagationHostToContainer:
		opts = append(opts, "rslave")
	default:
		opts = append(opts, "rprivate")
	}
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: path.Clean(m.ContainerPath), Type: "bind", Source: m.HostPath, Options: opts}
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// resources are the container's cgroup limits; devices are denied except
// the runtime's default set (runc and crun append it), or all when
// privileged.
func resources(in *specInput) *specs.LinuxResources {
	r := in.cfg.Resources
	res := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	if in.cfg.Security.Privileged {
		res.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	shares := cpuShares(r.CPURequestMilli)
	res.CPU = &specs.LinuxCPU{Shares: &shares}
	if q := cpuQuota(r.CPULimitMilli); q > 0 {
		period := uint64(cpuPeriod)
		res.CPU.Quota, res.CPU.Period = &q, &period
	}
	if r.MemoryLimitBytes > 0 {
		limit := r.MemoryLimitBytes
		res.Memory = &specs.LinuxMemory{Limit: &limit}
		if in.memsw {
			swap := limit
			res.Memory.Swap = &swap
		}
	}
	if r.PidsLimit > 0 {
		res.Pids = &specs.LinuxPids{Limit: r.PidsLimit}
	}
	return res
}
