package oci

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"kserver.dev/kserver/internal/runtime"
)

func TestCapabilities(t *testing.T) {
	all := map[string]bool{}
	for _, n := range capNames {
		all["CAP_"+n] = true
	}
	noResource := map[string]bool{}
	for k := range all {
		noResource[k] = k != "CAP_SYS_RESOURCE"
	}
	cases := []struct {
		name     string
		sec      runtime.Security
		bounding map[string]bool
		want     []string
		wantErr  bool
	}{
		{"default", runtime.Security{}, all, []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
			"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD",
			"CAP_AUDIT_WRITE", "CAP_SETFCAP"}, false},
		{"drop ALL add one", runtime.Security{CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"}}, all,
			[]string{"CAP_NET_BIND_SERVICE"}, false},
		{"drop some, add with prefix", runtime.Security{CapDrop: []string{"chown", "NET_RAW"}, CapAdd: []string{"CAP_SYS_TIME"}}, all,
			[]string{"CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
				"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SYS_TIME", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"}, false},
		{"unknown", runtime.Security{CapAdd: []string{"FLY"}}, all, nil, true},
	}
	for _, tc := range cases {
		got, err := capabilities(&tc.sec, tc.bounding)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v", tc.name, err)
			continue
		}
		if !tc.wantErr && !sameSet(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	priv, _ := capabilities(&runtime.Security{Privileged: true}, noResource)
	if len(priv) != len(capNames)-1 || contains(priv, "CAP_SYS_RESOURCE") {
		t.Errorf("privileged without CAP_SYS_RESOURCE in the bounding set: %d caps %v", len(priv), priv)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range b {
		if !contains(a, x) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func testInput(cfg *runtime.ContainerConfig) *specInput {
	return &specInput{
		cfg: cfg,
		sandbox: &sandboxRecord{Config: runtime.SandboxConfig{Name: "web", Hostname: "web-0", Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}},
			NetNS: "/run/netns/x", IPCNS: "/run/k/ns/ipc", UTSNS: "/run/k/ns/uts"},
		files:  sandboxFiles{hostname: "/s/hostname", resolv: "/s/resolv.conf", hosts: "/s/hosts", shm: "/s/shm"},
		rootfs: "/rootfs", user: user{uid: 1000, gid: 1000}, cgroupsPath: "/kubepods/burstable/podu/c",
	}
}

func TestBuildSpec(t *testing.T) {
	cfg := &runtime.ContainerConfig{Name: "app", Command: []string{"/app", "--serve"}, Env: []string{"A=1"}, TTY: true,
		Mounts: []runtime.Mount{
			{ContainerPath: "/data/cache", HostPath: "/v/cache", ReadOnly: true},
			{ContainerPath: "/data", HostPath: "/v/data", Propagation: runtime.PropagationHostToContainer},
			{ContainerPath: "/etc/hosts", HostPath: "/pod/etc-hosts"},
			{ContainerPath: "/scratch", Type: runtime.MountTmpfs, SizeBytes: 1 << 20},
		},
		Resources: runtime.Resources{CPURequestMilli: 100, CPULimitMilli: 250, MemoryLimitBytes: 1 << 30, PidsLimit: 50},
		Security:  runtime.Security{Seccomp: runtime.SeccompRuntimeDefault, ReadOnlyRootfs: true},
	}
	in := testInput(cfg)
	in.memsw = true
	s, err := buildSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Process.Env, []string{"A=1", "PATH=" + defaultPath, "HOSTNAME=web-0", "TERM=xterm"}) {
		t.Errorf("env = %v", s.Process.Env)
	}
	if s.Process.Cwd != "/" || !s.Process.Terminal || !s.Root.Readonly || s.Process.User.UID != 1000 {
		t.Errorf("process %+v root %+v", s.Process, s.Root)
	}
	var dests []string
	byDest := map[string]specs.Mount{}
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
		byDest[m.Destination] = m
	}
	if byDest["/etc/hosts"].Source != "/pod/etc-hosts" {
		t.Errorf("the agent's /etc/hosts does not replace the runtime's: %+v", byDest["/etc/hosts"])
	}
	if i, j := index(dests, "/data"), index(dests, "/data/cache"); i < 0 || j < i {
		t.Errorf("mount order %v: /data must come before /data/cache", dests)
	}
	if !contains(byDest["/data/cache"].Options, "ro") || !contains(byDest["/data"].Options, "rslave") ||
		!contains(byDest["/scratch"].Options, "size=1048576") || !contains(byDest["/etc/resolv.conf"].Options, "ro") {
		t.Errorf("mount options: %+v", byDest)
	}
	if s.Linux.RootfsPropagation != "rslave" {
		t.Errorf("rootfs propagation %q, want rslave for a HostToContainer mount", s.Linux.RootfsPropagation)
	}
	r := s.Linux.Resources
	if *r.CPU.Shares != 102 || *r.CPU.Quota != 25000 || *r.CPU.Period != 100000 || *r.Memory.Limit != 1<<30 ||
		*r.Memory.Swap != 1<<30 || r.Pids.Limit != 50 {
		t.Errorf("resources: cpu %+v memory %+v pids %+v", r.CPU, r.Memory, r.Pids)
	}
	wantNS := []specs.LinuxNamespace{{Type: "mount"}, {Type: "pid"}, {Type: "network", Path: "/run/netns/x"},
		{Type: "ipc", Path: "/run/k/ns/ipc"}, {Type: "uts", Path: "/run/k/ns/uts"}}
	if !reflect.DeepEqual(s.Linux.Namespaces, wantNS) {
		t.Errorf("namespaces = %+v", s.Linux.Namespaces)
	}
	if s.Linux.Seccomp == nil || len(s.Linux.MaskedPaths) == 0 || s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("seccomp %v masked %v sysctl %v", s.Linux.Seccomp != nil, s.Linux.MaskedPaths, s.Linux.Sysctl)
	}

	cfg.Security = runtime.Security{Privileged: true, Seccomp: runtime.SeccompRuntimeDefault}
	in.sandbox.Config.HostPID = true
	s, err = buildSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp != nil || s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil ||
		!s.Linux.Resources.Devices[0].Allow || contains(byDestOpts(s, "/sys"), "ro") {
		t.Errorf("privileged container is still confined: %+v", s.Linux)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == "pid" {
			t.Errorf("hostPID pod got a PID namespace")
		}
	}
}

func byDestOpts(s *specs.Spec, dest string) []string {
	for _, m := range s.Mounts {
		if m.Destination == dest {
			return m.Options
		}
	}
	return nil
}

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func TestSeccompGatedByCapabilities(t *testing.T) {
	denied := func(sc *specs.LinuxSeccomp, name string) bool {
		for _, s := range sc.Syscalls {
			if contains(s.Names, name) && len(s.Args) == 0 {
				return true
			}
		}
		return false
	}
	plain := defaultSeccomp([]string{"CAP_CHOWN"})
	for _, n := range []string{"mount", "unshare", "kexec_load", "init_module", "clock_settime", "keyctl", "bpf", "clone3"} {
		if !denied(plain, n) {
			t.Errorf("%s is allowed by the default profile", n)
		}
	}
	admin := defaultSeccomp([]string{"CAP_SYS_ADMIN", "CAP_SYS_TIME"})
	if denied(admin, "mount") || denied(admin, "clock_settime") || denied(admin, "clone3") || !denied(admin, "kexec_load") {
		t.Errorf("capability gating is wrong for CAP_SYS_ADMIN+CAP_SYS_TIME")
	}
	if plain.DefaultAction != specs.ActAllow || len(plain.Architectures) == 0 {
		t.Errorf("profile %s %v", plain.DefaultAction, plain.Architectures)
	}
}

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/passwd", "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n# comment\n")
	write("etc/group", "root:x:0:\nwww:x:33:\nadm:x:4:www,other\nstaff:x:50:\n")
	i64 := func(v int64) *int64 { return &v }
	cases := []struct {
		u    runtime.User
		want user
		err  bool
	}{
		{runtime.User{}, user{}, false},
		{runtime.User{Name: "www"}, user{uid: 33, gid: 33, additional: []uint32{4}}, false},
		{runtime.User{Name: "www:staff"}, user{uid: 33, gid: 50, additional: []uint32{4}}, false},
		{runtime.User{Name: "1234:5"}, user{uid: 1234, gid: 5}, false},
		{runtime.User{UID: i64(33), SupplementalGroups: []int64{7, 4}}, user{uid: 33, gid: 33, additional: []uint32{4, 7}}, false},
		{runtime.User{Name: "www", UID: i64(0), GID: i64(9)}, user{uid: 0, gid: 9}, false},
		{runtime.User{Name: "nobody"}, user{}, true},
		{runtime.User{Name: "www:nogroup"}, user{}, true},
	}
	for _, tc := range cases {
		got, err := resolveUser(root, tc.u)
		if (err != nil) != tc.err {
			t.Errorf("%+v: error %v", tc.u, err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: got %+v, want %+v", tc.u, got, tc.want)
		}
	}
	// A symlinked passwd cannot point outside the rootfs.
	if err := os.Remove(filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveUser(root, runtime.User{Name: "root"}); err == nil || !strings.Contains(err.Error(), "no matching entries") {
		t.Errorf("a passwd symlink escaped the rootfs: %v", err)
	}
}
