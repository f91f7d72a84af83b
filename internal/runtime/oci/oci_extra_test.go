package oci

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/runtimetest"
)

// openTest opens a runc runtime over private directories, running until
// the test ends, after which nothing may be left.
func openTest(t *testing.T, mutate func(*Config)) (*Runtime, *testEnv) {
	t.Helper()
	env := newTestEnv(t, "runc")
	if mutate != nil {
		mutate(&env.cfg)
	}
	rt, err := Open(context.Background(), env.cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rt.Run(ctx) }()
	t.Cleanup(func() {
		removeAll(t, rt)
		cancel()
		<-done
		checkClean(t, env)
	})
	return rt, env
}

func sandboxFor(t *testing.T, rt *Runtime, mutate func(*runtime.SandboxConfig)) string {
	t.Helper()
	uid := strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg := runtime.SandboxConfig{Name: "p" + uid, Namespace: "test", UID: uid, Hostname: "web-0", LogDir: t.TempDir()}
	if mutate != nil {
		mutate(&cfg)
	}
	id, err := rt.CreateSandbox(context.Background(), cfg)
	if err != nil {
		t.Fatalf("CreateSandbox: %v", err)
	}
	t.Cleanup(func() { _ = rt.RemoveSandbox(context.Background(), id) })
	return id
}

func runContainer(t *testing.T, rt *Runtime, env *testEnv, sb, name string, mutate func(*runtime.ContainerConfig)) string {
	t.Helper()
	cfg := behave(env.rootfs, runtimetest.Behavior{})
	cfg.Name = name
	if mutate != nil {
		mutate(&cfg)
	}
	id, err := rt.CreateContainer(context.Background(), sb, cfg)
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", name, err)
	}
	if err := rt.StartContainer(context.Background(), id); err != nil {
		t.Fatalf("StartContainer %s: %v", name, err)
	}
	return id
}

func execOut(t *testing.T, rt *Runtime, id string, cmd ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code, err := rt.Exec(context.Background(), id, runtime.ExecOptions{Command: cmd, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("exec %q: %v", cmd, err)
	}
	return out.String(), code
}

func TestSecurityContext(t *testing.T) {
	rt, env := openTest(t, nil)
	sb := sandboxFor(t, rt, nil)
	uid := int64(1000)
	app := runContainer(t, rt, env, sb, "app", func(c *runtime.ContainerConfig) {
		c.User = runtime.User{UID: &uid, SupplementalGroups: []int64{4242}}
		c.Security = runtime.Security{ReadOnlyRootfs: true, CapDrop: []string{"ALL"}, NoNewPrivileges: true,
			Seccomp: runtime.SeccompRuntimeDefault}
	})
	if out, _ := execOut(t, rt, app, "id"); !strings.Contains(out, "uid=1000") || !strings.Contains(out, "gid=1000") ||
		!strings.Contains(out, "10(wheel)") || !strings.Contains(out, "4242") {
		t.Errorf("id = %q; want uid and gid 1000 from /etc/passwd, wheel from /etc/group, and 4242", out)
	}
	if _, code := execOut(t, rt, app, "sh", "-c", "echo x > /written"); code == 0 {
		t.Errorf("writing to a read-only rootfs succeeded")
	}
	if out, code := execOut(t, rt, app, "sh", "-c", "echo x > /tmp/ok"); code != 0 {
		t.Errorf("writing to the tmpfs on a read-only rootfs failed: %s", out)
	}
	status, _ := execOut(t, rt, app, "cat", "/proc/self/status")
	for _, want := range []string{"CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(status, want) {
			t.Errorf("/proc/self/status lacks %q", want)
		}
	}
	if out, _ := execOut(t, rt, app, "cat", "/proc/keys"); out != "" {
		t.Errorf("/proc/keys is not masked: %q", out)
	}

	named := runContainer(t, rt, env, sb, "named", func(c *runtime.ContainerConfig) {
		c.User = runtime.User{Name: "nobody:app"}
		c.Security.CapAdd = []string{"NET_ADMIN"}
	})
	if out, _ := execOut(t, rt, named, "id"); !strings.HasPrefix(out, "uid=65534(nobody) gid=1000(app)") {
		t.Errorf("id for USER nobody:app = %q", out)
	}
	if status, _ := execOut(t, rt, named, "cat", "/proc/self/status"); strings.Contains(status, "Seccomp:\t2") {
		t.Errorf("an unset seccomp profile filtered system calls")
	}
	_, err := rt.CreateContainer(context.Background(), sb, func() runtime.ContainerConfig {
		c := behave(env.rootfs, runtimetest.Behavior{})
		c.Name, c.Security.RunAsNonRoot = "root", true
		return c
	}())
	if !errors.Is(err, runtime.ErrInvalidConfig) || !strings.Contains(err.Error(), "runAsNonRoot") {
		t.Errorf("runAsNonRoot with a root user: %v", err)
	}
	_, err = rt.CreateContainer(context.Background(), sb, func() runtime.ContainerConfig {
		c := behave(env.rootfs, runtimetest.Behavior{})
		c.Name, c.User.Name = "ghost", "ghost"
		return c
	}())
	if !errors.Is(err, runtime.ErrInvalidConfig) {
		t.Errorf("unknown user name: %v", err)
	}
}

func TestLimitsAndQoS(t *testing.T) {
	rt, env := openTest(t, nil)
	sb := sandboxFor(t, rt, func(c *runtime.SandboxConfig) {
		c.QOS, c.Resources = runtime.QOSGuaranteed, runtime.Resources{CPURequestMilli: 500, CPULimitMilli: 500, MemoryLimitBytes: 64 << 20}
	})
	id := runContainer(t, rt, env, sb, "limited", func(c *runtime.ContainerConfig) {
		c.Resources = runtime.Resources{CPURequestMilli: 250, CPULimitMilli: 500, MemoryLimitBytes: 32 << 20,
			PidsLimit: 64, OOMScoreAdj: -997}
	})
	other := runContainer(t, rt, env, sb, "adj", func(c *runtime.ContainerConfig) { c.Resources.OOMScoreAdj = 500 })
	cg := rt.cg
	pod := filepath.Join(env.cfg.CgroupRoot, "pod"+podUID(t, rt, sb))
	ctr := filepath.Join(pod, id)
	want := []struct{ ctrl, path, file, val string }{
		{"memory", pod, "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
		{"cpu", pod, "cpu.cfs_quota_us", "50000"},
		{"cpu", pod, "cpu.shares", "512"},
		{"memory", ctr, "memory.limit_in_bytes", strconv.Itoa(32 << 20)},
		{"cpu", ctr, "cpu.cfs_quota_us", "50000"},
		{"cpu", ctr, "cpu.shares", "256"},
		{"pids", ctr, "pids.max", "64"},
	}
	for _, w := range want {
		b, err := os.ReadFile(filepath.Join(cg.v1[w.ctrl], w.path, w.file))
		if err != nil || strings.TrimSpace(string(b)) != w.val {
			t.Errorf("%s of %s = %q, %v; want %s", w.file, w.path, strings.TrimSpace(string(b)), err, w.val)
		}
	}
	if out, _ := execOut(t, rt, id, "cat", "/proc/self/oom_score_adj"); strings.TrimSpace(out) != "0" {
		t.Errorf("oom_score_adj for a requested -997 = %q, want it clamped to 0", out)
	}
	if out, _ := execOut(t, rt, other, "cat", "/proc/self/oom_score_adj"); strings.TrimSpace(out) != "500" {
		t.Errorf("oom_score_adj = %q, want 500", out)
	}
}

func podUID(t *testing.T, rt *Runtime, sb string) string {
	st, err := rt.SandboxStatus(context.Background(), sb)
	if err != nil {
		t.Fatal(err)
	}
	return st.UID
}

// A sandbox without a supplied network namespace gets one of its own
// (loopback up, removed with the sandbox); containers share /dev/shm,
// hostname and resolv.conf.
func TestOwnNamespacesAndPodFiles(t *testing.T) {
	rt, env := openTest(t, nil)
	sb := sandboxFor(t, rt, func(c *runtime.SandboxConfig) {
		c.DNS = &runtime.DNSConfig{Servers: []string{"10.43.0.10"}, Searches: []string{"test.svc.cluster.local"}, Options: []string{"ndots:5"}}
	})
	st, _ := rt.SandboxStatus(context.Background(), sb)
	if !pinned(st.NetNSPath) {
		t.Fatalf("sandbox network namespace %q is not a pinned namespace", st.NetNSPath)
	}
	a := runContainer(t, rt, env, sb, "a", nil)
	b := runContainer(t, rt, env, sb, "b", nil)
	if _, code := execOut(t, rt, a, "sh", "-c", "echo shared > /dev/shm/x"); code != 0 {
		t.Fatalf("write to /dev/shm failed")
	}
	if out, _ := execOut(t, rt, b, "cat", "/dev/shm/x"); out != "shared\n" {
		t.Errorf("/dev/shm not shared between the pod's containers: %q", out)
	}
	if out, _ := execOut(t, rt, b, "cat", "/etc/resolv.conf"); out != "nameserver 10.43.0.10\nsearch test.svc.cluster.local\noptions ndots:5\n" {
		t.Errorf("resolv.conf = %q", out)
	}
	if out, _ := execOut(t, rt, b, "sh", "-c", "hostname; cat /etc/hostname"); out != "web-0\nweb-0\n" {
		t.Errorf("hostname = %q", out)
	}
	if out, _ := execOut(t, rt, a, "sh", "-c", "ls /sys/class/net"); !strings.Contains(out, "lo") {
		t.Errorf("interfaces in the pod's network namespace: %q", out)
	}
	if err := rt.RemoveSandbox(context.Background(), sb); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.NetNSPath); !os.IsNotExist(err) {
		t.Errorf("the runtime's network namespace survived the sandbox: %v", err)
	}
}

func TestShareProcessNamespace(t *testing.T) {
	rt, env := openTest(t, nil)
	sb := sandboxFor(t, rt, func(c *runtime.SandboxConfig) { c.ShareProcessNamespace = true })
	a := runContainer(t, rt, env, sb, "a", func(c *runtime.ContainerConfig) {
		c.Command = []string{"/bin/sh", "-c", "exec sleep 4242"}
	})
	b := runContainer(t, rt, env, sb, "b", nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := execOut(t, rt, b, "ps")
		if strings.Contains(out, "sleep 4242") && strings.Contains(out, "busybox sh -c trap") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ps in b does not show a's process and the pause process:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	list, _ := rt.ListContainers(context.Background(), runtime.ContainerFilter{SandboxID: sb})
	if len(list) != 2 {
		t.Errorf("ListContainers shows %d containers, want the 2 app containers (the pause process is hidden)", len(list))
	}
	if err := rt.StopContainer(context.Background(), a, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ := rt.ContainerStatus(context.Background(), a); st.State != runtime.StateExited {
		t.Errorf("a is %s after stop", st.State)
	}
}

// A monitor killed with SIGKILL leaves a container nobody observes; the
// runtime kills it and reports it lost.
func TestMonitorKilled(t *testing.T) {
	rt, env := openTest(t, nil)
	sb := sandboxFor(t, rt, nil)
	id := runContainer(t, rt, env, sb, "orphan", nil)
	rt.mu.Lock()
	conmon, pid := rt.containers[id].rec.MonitorPID, rt.containers[id].rec.PID
	rt.mu.Unlock()
	if err := unix.Kill(conmon, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var st runtime.ContainerStatus
	for {
		st, _ = rt.ContainerStatus(context.Background(), id)
		if st.State == runtime.StateExited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container still %s after its monitor was killed", st.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Reason != runtime.ReasonUnknown || st.ExitCode != 255 || !strings.Contains(st.Message, "conmon") {
		t.Errorf("status = %d %q %q", st.ExitCode, st.Reason, st.Message)
	}
	for procStart(pid) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the unmonitored container process %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLogRotation(t *testing.T) {
	rt, env := openTest(t, func(c *Config) { c.LogMaxSize, c.LogMaxFiles, c.ResyncInterval = 4096, 2, time.Hour })
	sb := sandboxFor(t, rt, nil)
	id := runContainer(t, rt, env, sb, "chatty", func(c *runtime.ContainerConfig) {
		c.Command = []string{"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.005; done"}
	})
	st, _ := rt.ContainerStatus(context.Background(), id)
	follow := &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = rt.Logs(ctx, id, runtime.LogOptions{Follow: true}, follow) }()
	for round := 0; round < 3; round++ {
		waitSize(t, st.LogPath, 5000)
		before, _ := os.Stat(st.LogPath)
		rt.rotateLogs()
		waitSize(t, st.LogPath, 0) // conmon makes the new file when it reads the reopen request
		if fi, err := os.Stat(st.LogPath); err != nil || os.SameFile(fi, before) || fi.Size() > 4096 {
			t.Fatalf("after rotation the log is %v, %v; want a new small file", fi, err)
		}
	}
	rotated, _ := filepath.Glob(st.LogPath + ".*")
	if len(rotated) != 1 {
		t.Errorf("rotated files = %v, want the newest 1 (LogMaxFiles 2 counts the live file)", rotated)
	}
	waitSize(t, st.LogPath, 200)
	lines := strings.Split(strings.TrimSpace(follow.String()), "\n")
	for i := 1; i < len(lines); i++ {
		a, _ := strconv.Atoi(strings.TrimPrefix(lines[i-1], "line "))
		b, _ := strconv.Atoi(strings.TrimPrefix(lines[i], "line "))
		if b != a+1 {
			t.Fatalf("the follower skipped or repeated lines across rotations: %q then %q", lines[i-1], lines[i])
		}
	}
	if len(lines) < 200 {
		t.Errorf("the follower saw %d lines across three rotations", len(lines))
	}
}

func waitSize(t *testing.T, path string, size int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %d bytes", path, size)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCheck(t *testing.T) {
	netnstest.RequireTool(t, "runc")
	netnstest.RequireTool(t, "conmon")
	res := Check(context.Background(), Config{})
	ok := map[string]bool{}
	for _, r := range res {
		ok[r.Name] = r.OK
		if r.Message == "" {
			t.Errorf("check %s has no message", r.Name)
		}
	}
	for _, name := range []string{"runc", "conmon", "cgroups", "memory cgroup"} {
		if !ok[name] {
			t.Errorf("check %s is not OK on this host: %+v", name, res)
		}
	}
	res = Check(context.Background(), Config{RuntimePath: "/nonexistent/runc"})
	if res[0].OK || !strings.Contains(res[0].Message, "runc") {
		t.Errorf("a missing runtime: %+v", res[0])
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// A hostNetwork/hostIPC pod uses the host's namespaces (read only here:
// nothing is changed in them) and the host's hostname.
func TestHostNamespaces(t *testing.T) {
	rt, env := openTest(t, nil)
	host, _ := os.Hostname()
	sb := sandboxFor(t, rt, func(c *runtime.SandboxConfig) { c.HostNetwork, c.HostIPC, c.Hostname = true, true, host })
	id := runContainer(t, rt, env, sb, "hostnet", nil)
	// This thread's namespaces are the host's (the test never enters others).
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	want, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := rt.ContainerStatus(context.Background(), id)
	got, err := os.Readlink("/proc/" + strconv.Itoa(st.PID) + "/ns/net")
	if err != nil || got != want {
		t.Errorf("container network namespace %q (%v), want the host's %q", got, err, want)
	}
	if out, _ := execOut(t, rt, id, "hostname"); strings.TrimSpace(out) != host {
		t.Errorf("hostname in a hostNetwork pod = %q, want %q", out, host)
	}
	ipc, _ := os.Readlink("/proc/thread-self/ns/ipc")
	if got, _ := os.Readlink("/proc/" + strconv.Itoa(st.PID) + "/ns/ipc"); got != ipc {
		t.Errorf("container IPC namespace %q, want the host's %q", got, ipc)
	}
	if sbs, _ := rt.SandboxStatus(context.Background(), sb); sbs.NetNSPath != "" || !sbs.HostNetwork {
		t.Errorf("sandbox status %+v", sbs)
	}
}

// A rootfs given as mounts (an overlay, as the image step prepares) is
// mounted for the container and unmounted when it is removed.
func TestRootfsMounts(t *testing.T) {
	rt, env := openTest(t, nil)
	sb := sandboxFor(t, rt, nil)
	dir := t.TempDir()
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	id := runContainer(t, rt, env, sb, "overlay", func(c *runtime.ContainerConfig) {
		c.Rootfs = runtime.Rootfs{Mounts: []runtime.RootfsMount{{Type: "overlay", Source: "overlay",
			Options: []string{"lowerdir=" + env.rootfs, "upperdir=" + upper, "workdir=" + work}}}}
	})
	if _, code := execOut(t, rt, id, "sh", "-c", "echo written > /etc/new-file"); code != 0 {
		t.Fatalf("write into the overlay rootfs failed")
	}
	if b, err := os.ReadFile(filepath.Join(upper, "etc", "new-file")); err != nil || string(b) != "written\n" {
		t.Errorf("the write did not land in the upper dir: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(env.rootfs, "etc", "new-file")); err == nil {
		t.Errorf("the write reached the lower dir")
	}
	if err := rt.RemoveContainer(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), upper) {
		t.Errorf("the overlay is still mounted after RemoveContainer")
	}
}

// Pinning namespaces leaves every thread of kserver in the namespaces it
// had (a thread left behind in a pod's namespace would be reused for other
// work, or, for the main thread, parked for good holding the namespace).
func TestPinLeavesThreadsAlone(t *testing.T) {
	netnstest.RequireRoot(t)
	nsOf := func() map[string]bool {
		seen := map[string]bool{}
		tasks, _ := filepath.Glob("/proc/self/task/*/ns")
		for _, dir := range tasks {
			for _, k := range []string{"net", "uts", "ipc"} {
				if l, err := os.Readlink(filepath.Join(dir, k)); err == nil {
					seen[l] = true
				}
			}
		}
		return seen
	}
	before := nsOf()
	dir := t.TempDir()
	for i := range 20 {
		d := filepath.Join(dir, strconv.Itoa(i))
		if err := pinNamespaces(d, []string{"ipc", "uts", "net"}, "pinned"); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"ipc", "uts", "net"} {
			if !pinned(filepath.Join(d, k)) {
				t.Errorf("%s/%s is not a pinned namespace", d, k)
			}
			if err := unpin(filepath.Join(d, k)); err != nil {
				t.Error(err)
			}
		}
	}
	for ns := range nsOf() {
		if !before[ns] {
			t.Errorf("a thread of this process is in %s, a namespace it did not start in", ns)
		}
	}
}
