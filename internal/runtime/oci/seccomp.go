package oci

import (
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// seccompDeny lists the system calls the RuntimeDefault profile refuses
// with EPERM, grouped by the capability that would make them legitimate:
// a container granted that capability gets the group back. The profile is
// a deny list on top of "allow", so new system calls keep working; what it
// refuses is the same class of calls the common runtime default profiles
// refuse (kernel modules and kexec, clocks, mounts and namespaces, keyrings,
// BPF and perf, raw I/O, reboot, swap, accounting, other processes'
// memory).
var seccompDeny = []struct {
	capability string // "" = denied whatever the capabilities
	names      []string
}{
	{"", []string{"create_module", "get_kernel_syms", "query_module", "nfsservctl", "uselib", "vm86", "vm86old",
		"ustat", "sysfs", "_sysctl", "kexec_load", "kexec_file_load", "keyctl", "add_key", "request_key", "userfaultfd"}},
	{"CAP_SYS_ADMIN", []string{"mount", "umount", "umount2", "pivot_root", "setns", "unshare", "fsopen", "fsconfig",
		"fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "quotactl", "quotactl_fd", "swapon", "swapoff",
		"bpf", "perf_event_open", "fanotify_init", "lookup_dcookie"}},
	{"CAP_SYS_MODULE", []string{"init_module", "finit_module", "delete_module"}},
	{"CAP_SYS_TIME", []string{"settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64"}},
	{"CAP_SYS_BOOT", []string{"reboot"}},
	{"CAP_SYS_PACCT", []string{"acct"}},
	{"CAP_SYS_RAWIO", []string{"iopl", "ioperm"}},
	{"CAP_SYS_PTRACE", []string{"process_vm_readv", "process_vm_writev", "kcmp"}},
	{"CAP_SYSLOG", []string{"syslog"}},
	{"CAP_SYS_NICE", []string{"get_mempolicy", "mbind", "set_mempolicy", "move_pages"}},
	{"CAP_DAC_READ_SEARCH", []string{"open_by_handle_at"}},
}

// cloneNamespaceFlags are the clone(2) flags that create namespaces; the
// profile refuses them without CAP_SYS_ADMIN (one rule per flag, since a
// seccomp rule can only test a masked value for equality).
var cloneNamespaceFlags = []uint64{
	0x00020000, // CLONE_NEWNS
	0x02000000, // CLONE_NEWCGROUP
	0x04000000, // CLONE_NEWUTS
	0x08000000, // CLONE_NEWIPC
	0x10000000, // CLONE_NEWUSER
	0x20000000, // CLONE_NEWPID
	0x40000000, // CLONE_NEWNET
}

// seccompArches are the architectures a filter must cover on this build's
// architecture (its native one and the compat ones).
func seccompArches() []specs.Arch {
	switch goruntime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	case "arm":
		return []specs.Arch{specs.ArchARM}
	case "riscv64":
		return []specs.Arch{specs.ArchRISCV64}
	}
	return nil
}

// defaultSeccomp is the RuntimeDefault profile for a process with caps.
func defaultSeccomp(caps []string) *specs.LinuxSeccomp {
	has := map[string]bool{}
	for _, c := range caps {
		has[c] = true
	}
	eperm, enosys := uint(1), uint(38)
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: seccompArches()}
	for _, g := range seccompDeny {
		if g.capability != "" && has[g.capability] {
			continue
		}
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{Names: g.names, Action: specs.ActErrno, ErrnoRet: &eperm})
	}
	if !has["CAP_SYS_ADMIN"] {
		// clone3 passes its flags in memory a filter cannot read: make it
		// look unimplemented so libc falls back to clone, which is checked.
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
		for _, f := range cloneNamespaceFlags {
			sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{
				Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual}},
			})
		}
	}
	return sc
}
