package oci

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/runtimetest"
)

func TestConformanceRunc(t *testing.T) { runtimetest.Run(t, harness(t, "runc")) }

func TestConformanceCrun(t *testing.T) { runtimetest.Run(t, harness(t, "crun")) }

// testEnv is one runtime under test: its directories, cgroup root and the
// cancel of its Run loop.
type testEnv struct {
	cfg    Config
	rootfs string
	cancel context.CancelFunc
	done   chan struct{}
}

func harness(t *testing.T, name string) runtimetest.Harness {
	var mu sync.Mutex
	envs := map[*Runtime]*testEnv{}
	openRun := func(t *testing.T, env *testEnv) *Runtime {
		rt, err := Open(context.Background(), env.cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		env.cancel, env.done = cancel, make(chan struct{})
		go func() {
			defer close(env.done)
			if err := rt.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		mu.Lock()
		envs[rt] = env
		mu.Unlock()
		return rt
	}
	stop := func(env *testEnv) {
		env.cancel()
		<-env.done
	}
	return runtimetest.Harness{
		New: func(t *testing.T) runtime.Runtime {
			env := newTestEnv(t, name)
			rt := openRun(t, env)
			t.Cleanup(func() {
				mu.Lock()
				cur := rt
				for r, e := range envs {
					if e == env {
						cur = r
						delete(envs, r)
					}
				}
				mu.Unlock()
				removeAll(t, cur)
				stop(env)
				checkClean(t, env)
			})
			return rt
		},
		Reopen: func(t *testing.T, old runtime.Runtime) runtime.Runtime {
			mu.Lock()
			env := envs[old.(*Runtime)]
			delete(envs, old.(*Runtime))
			mu.Unlock()
			stop(env)
			return openRun(t, env)
		},
		Sandbox: func(t *testing.T, cfg *runtime.SandboxConfig) {
			cfg.NetNSPath = netnstest.New(t, "kst").Path()
		},
		Container: func(t *testing.T, b runtimetest.Behavior) runtime.ContainerConfig {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range envs {
				return behave(e.rootfs, b)
			}
			t.Fatal("Container called before New")
			return runtime.ContainerConfig{}
		},
		Clean: func(t *testing.T, rt runtime.Runtime) {
			mu.Lock()
			env := envs[rt.(*Runtime)]
			mu.Unlock()
			checkClean(t, env)
		},
	}
}

// newTestEnv makes private directories, a busybox rootfs and a cgroup root
// for one runtime, removed when the test ends.
func newTestEnv(t *testing.T, name string) *testEnv {
	t.Helper()
	netnstest.RequireRoot(t)
	netnstest.RequireTool(t, name)
	netnstest.RequireTool(t, "conmon")
	var b [4]byte
	_, _ = rand.Read(b[:])
	dir := t.TempDir()
	env := &testEnv{cfg: Config{
		Runtime: name, RunDir: filepath.Join(dir, "run"), StateDir: filepath.Join(dir, "state"),
		LogRoot: filepath.Join(dir, "logs"), CgroupRoot: "/kserver-test-" + hex.EncodeToString(b[:]) + "/kubepods",
		ResyncInterval: time.Second,
	}, rootfs: busyboxRootfs(t, filepath.Join(dir, "rootfs"))}
	t.Cleanup(func() { removeCgroupTree(t, filepath.Dir(env.cfg.CgroupRoot)) })
	return env
}

// busyboxRootfs builds a rootfs of the host's static busybox and links.
func busyboxRootfs(t *testing.T, root string) string {
	t.Helper()
	bb := netnstest.RequireTool(t, "busybox")
	for _, d := range []string{"bin", "proc", "dev", "sys", "etc", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// As in images; runc gives a tmpfs the mode of the directory it covers.
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(bb, filepath.Join(root, "bin", "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields("sh echo sleep cat tail httpd nc mkdir printf hostname stty tty id true false env ls ps kill yes dd") {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/:/bin/sh\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// behave turns a conformance behaviour into a busybox shell script.
func behave(rootfs string, b runtimetest.Behavior) runtime.ContainerConfig {
	cfg := runtime.ContainerConfig{Rootfs: runtime.Rootfs{Path: rootfs},
		Mounts: []runtime.Mount{{ContainerPath: "/tmp", Type: runtime.MountTmpfs}}}
	if b.FailStart {
		cfg.Command = []string{"/nonexistent"}
		return cfg
	}
	var s []string
	switch {
	case b.IgnoreTerm:
		s = append(s, "trap '' TERM")
	default:
		s = append(s, fmt.Sprintf("trap 'exit %d' TERM", b.TermExit))
	}
	for _, line := range b.Output {
		s = append(s, "echo "+quote(line))
	}
	switch {
	case b.OOM:
		s = append(s, "exec tail /dev/zero")
	case b.Ticks > 0:
		s = append(s, fmt.Sprintf("i=1; while [ $i -le %d ]; do sleep %g; echo tick $i; i=$((i+1)); done", b.Ticks, b.TickEvery.Seconds()))
	case b.ExitAfter > 0:
		s = append(s, fmt.Sprintf("sleep %g & wait $!", b.ExitAfter.Seconds()))
	case b.ExitNow:
	case b.EchoStdin:
		s = append(s, "cat")
	case b.HTTPPort > 0:
		s = append(s, "mkdir -p /tmp/www", "echo -n "+quote(b.HTTPBody)+" > /tmp/www/index.html",
			fmt.Sprintf("exec httpd -f -p %d -h /tmp/www", b.HTTPPort))
	case b.Busy:
		s = append(s, "while :; do :; done")
	default:
		s = append(s, "while :; do sleep 1000 & wait $!; done")
	}
	s = append(s, fmt.Sprintf("exit %d", b.Exit))
	cfg.Command = []string{"/bin/sh", "-c", strings.Join(s, "\n")}
	return cfg
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// removeAll removes whatever a test left, so cleanup checks see the
// runtime's own teardown.
func removeAll(t *testing.T, rt *Runtime) {
	sbs, _ := rt.ListSandboxes(context.Background())
	for _, sb := range sbs {
		if err := rt.RemoveSandbox(context.Background(), sb.ID); err != nil {
			t.Errorf("RemoveSandbox %s: %v", sb.ID, err)
		}
	}
}

// checkClean fails the test if the runtime left mounts, cgroups, monitor
// processes or OCI runtime state behind.
func checkClean(t *testing.T, env *testEnv) {
	t.Helper()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		for _, dir := range []string{env.cfg.RunDir, env.cfg.StateDir} {
			if strings.Contains(line, dir+"/") {
				t.Errorf("mount left behind: %s", line)
			}
		}
	}
	cg, err := detectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cg.allDirs(env.cfg.CgroupRoot) {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() && strings.HasPrefix(e.Name(), "pod") {
				t.Errorf("pod cgroup left behind: %s", p)
			}
			return nil
		})
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.HasPrefix(string(b), "/usr/bin/conmon") && strings.Contains(string(b), env.cfg.RunDir) {
			// A monitor may still be finishing; give it a moment.
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				if _, err := os.Stat(p); err != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := os.Stat(p); err == nil {
				t.Errorf("monitor left running: %s", strings.ReplaceAll(string(b), "\x00", " "))
			}
		}
	}
	states, _ := os.ReadDir(filepath.Join(env.cfg.RunDir, env.cfg.Runtime))
	for _, s := range states {
		t.Errorf("OCI runtime state left behind: %s", s.Name())
	}
}

// removeCgroupTree removes a test's cgroup root in every hierarchy,
// deepest first.
func removeCgroupTree(t *testing.T, root string) {
	cg, err := detectCgroups()
	if err != nil {
		return
	}
	for _, d := range cg.allDirs(root) {
		var dirs []string
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !os.IsNotExist(err) {
				t.Errorf("remove test cgroup: %v", err)
			}
		}
	}
}
