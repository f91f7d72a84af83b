package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/oci"
)

// R1 measures what kserver's runtime path (conmon, bookkeeping, exit
// detection) adds to starting a container over the OCI runtime alone, and
// the raw create/start/stop/remove latencies. It needs root, runc/crun,
// conmon and a static busybox; its containers run in a sandbox with a
// network namespace of its own, under a cgroup root and directories it
// removes.

func r1(id, name string) Benchmark {
	const n = 40
	return Benchmark{
		ID:    id,
		Title: fmt.Sprintf("Container start overhead over bare `%s run`", name),
		Method: fmt.Sprintf("A static busybox `true` in a read-only rootfs (1 CPU requested), %d times per run, interleaved: (a) `%[2]s run` of\n"+
			"a minimal bundle (new pid/net/ipc/uts/mount namespaces), (b) `%[2]s run` of the config.json kserver\n"+
			"generated for the same container (so spec differences are not counted as overhead), (c) kserver's\n"+
			"CreateContainer + StartContainer until the exit is seen (conmon writes it; one inotify watch reports\n"+
			"it). Overhead = median (c) − median (b). Then create, start, stop (TERM handled) and remove of a\n"+
			"long-running container, and create+remove of an empty sandbox with its namespaces pinned as files\n"+
			"and with a pause process (shareProcessNamespace), p50. `sudo bin/kbench --only %[3]s`", n, name, id),
		Setup: r1Setup(name),
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			return setup.(*r1Env).run(ctx, n)
		},
	}
}

type r1Env struct {
	name, dir, rootfs string
	cfg               oci.Config
	rt                *oci.Runtime
	sandbox           string
	cancel            context.CancelFunc
	done              chan struct{}
	events            <-chan runtime.Event
	seq               int
}

func r1Setup(name string) func(ctx context.Context, env *Env) (any, error) {
	return func(ctx context.Context, env *Env) (any, error) {
		if err := needRoot(); err != nil {
			return nil, err
		}
		bb, err := exec.LookPath("busybox")
		if err != nil {
			return nil, errors.New("needs a static busybox (package busybox-static)")
		}
		dir, err := os.MkdirTemp("", "kbench-r1-")
		if err != nil {
			return nil, err
		}
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		e := &r1Env{name: name, dir: dir, rootfs: filepath.Join(dir, "rootfs"), cfg: oci.Config{Runtime: name,
			RunDir: filepath.Join(dir, "run"), StateDir: filepath.Join(dir, "state"), LogRoot: filepath.Join(dir, "logs"),
			CgroupRoot: "/kbench-" + hex.EncodeToString(b) + "/kubepods"}}
		if err := e.start(ctx, bb); err != nil {
			return nil, errors.Join(err, e.Close())
		}
		return e, nil
	}
}

func (e *r1Env) start(ctx context.Context, busybox string) error {
	for _, d := range []string{"bin", "proc", "dev", "sys", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(e.rootfs, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyExe(busybox, filepath.Join(e.rootfs, "bin", "busybox")); err != nil {
		return err
	}
	for _, a := range []string{"true", "sh", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(e.rootfs, "bin", a)); err != nil {
			return err
		}
	}
	var err error
	if e.rt, err = oci.Open(ctx, e.cfg); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	e.events = e.rt.Watch(runCtx)
	go func() { defer close(e.done); _ = e.rt.Run(runCtx) }()
	// One CPU requested, so the pod and its containers get the default CPU
	// weight that bare runs have: the comparison is then about the
	// runtime path, not about a BestEffort pod's minimal weight.
	e.sandbox, err = e.rt.CreateSandbox(ctx, runtime.SandboxConfig{Name: "r1", Namespace: "kbench", UID: "r1",
		LogDir: filepath.Join(e.dir, "logs"), QOS: runtime.QOSBurstable, Resources: runtime.Resources{CPURequestMilli: 1000}})
	return err
}

// Close removes the sandbox, the directories and the cgroup root.
func (e *r1Env) Close() error {
	var errs []error
	if e.rt != nil && e.sandbox != "" {
		errs = append(errs, e.rt.RemoveSandbox(context.Background(), e.sandbox))
	}
	if e.cancel != nil {
		e.cancel()
		<-e.done
	}
	for _, ctrl := range []string{"memory", "cpu", "cpuacct", "pids", "systemd", "cpuset", "devices", "freezer",
		"blkio", "hugetlb", "unified", "net_cls", "perf_event", "net_prio", ""} {
		root := filepath.Join("/sys/fs/cgroup", ctrl, filepath.Dir(e.cfg.CgroupRoot))
		for _, d := range []string{filepath.Join(root, "kubepods", "besteffort"), filepath.Join(root, "kubepods", "burstable"),
			filepath.Join(root, "kubepods"), root} {
			_ = os.Remove(d)
		}
	}
	errs = append(errs, os.RemoveAll(e.dir))
	return errors.Join(errs...)
}

func (e *r1Env) run(ctx context.Context, n int) ([]Sample, error) {
	var bare, same, ours []time.Duration
	for range n {
		e.seq++
		d, err := e.bareRun(ctx, e.minimalBundle)
		if err != nil {
			return nil, fmt.Errorf("bare %s run: %w", e.name, err)
		}
		bare = append(bare, d)
		id, d, err := e.kserverRun(ctx)
		if err != nil {
			return nil, fmt.Errorf("kserver start: %w", err)
		}
		ours = append(ours, d)
		d, err = e.bareRun(ctx, func(dir string) error { return e.copiedBundle(dir, id) })
		if err != nil {
			return nil, fmt.Errorf("bare %s run of kserver's spec: %w", e.name, err)
		}
		same = append(same, d)
		if err := e.rt.RemoveContainer(ctx, id); err != nil {
			return nil, err
		}
	}
	lat, err := e.lifecycle(ctx, n/4)
	if err != nil {
		return nil, err
	}
	for _, s := range [][]time.Duration{bare, same, ours} {
		slices.Sort(s)
	}
	over := percentile(ours, 50) - percentile(same, 50)
	return append([]Sample{
		{Metric: "bare run (minimal spec) p50", Value: percentile(bare, 50), Unit: "ms"},
		{Metric: "bare run (kserver's spec) p50", Value: percentile(same, 50), Unit: "ms"},
		{Metric: "kserver create+start to exit seen p50", Value: percentile(ours, 50), Unit: "ms"},
		{Metric: "overhead over bare run p50", Value: over, Unit: "ms", Target: Target{"<=", 2}},
	}, lat...), nil
}

// bareRun times `<runtime> run` of a bundle made by mk in a fresh dir.
func (e *r1Env) bareRun(ctx context.Context, mk func(dir string) error) (time.Duration, error) {
	dir := filepath.Join(e.dir, fmt.Sprintf("bare-%d", e.seq))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := mk(dir); err != nil {
		return 0, err
	}
	id := fmt.Sprintf("kbench-r1-%d", e.seq)
	cmd := exec.CommandContext(ctx, e.name, "--root", filepath.Join(e.dir, "bare-root"), "run", "--bundle", dir, id)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return time.Since(start), nil
}

// minimalBundle is what `runc spec` gives, with our rootfs and `true`.
func (e *r1Env) minimalBundle(dir string) error {
	s := &specs.Spec{Version: "1.0.2", Root: &specs.Root{Path: e.rootfs, Readonly: true},
		Process: &specs.Process{Args: []string{"/bin/true"}, Cwd: "/", Env: []string{"PATH=/bin"}},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}}},
		Linux: &specs.Linux{CgroupsPath: filepath.Join(filepath.Dir(e.cfg.CgroupRoot), fmt.Sprintf("bare-%d", e.seq)),
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}}}}
	return writeSpec(filepath.Join(dir, "config.json"), s)
}

// copiedBundle is kserver's config.json for container id, in its own cgroup.
func (e *r1Env) copiedBundle(dir, id string) error {
	b, err := os.ReadFile(filepath.Join(e.cfg.StateDir, "containers", id, "config.json"))
	if err != nil {
		return err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	s.Linux.CgroupsPath = filepath.Join(filepath.Dir(e.cfg.CgroupRoot), fmt.Sprintf("same-%d", e.seq))
	return writeSpec(filepath.Join(dir, "config.json"), &s)
}

func writeSpec(path string, s *specs.Spec) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// kserverRun creates and starts `true` and waits for its exit event.
func (e *r1Env) kserverRun(ctx context.Context) (string, time.Duration, error) {
	cfg := runtime.ContainerConfig{Name: fmt.Sprintf("true-%d", e.seq), Command: []string{"/bin/true"},
		Rootfs: runtime.Rootfs{Path: e.rootfs}, Security: runtime.Security{ReadOnlyRootfs: true},
		Resources: runtime.Resources{CPURequestMilli: 1000}}
	start := time.Now()
	id, err := e.rt.CreateContainer(ctx, e.sandbox, cfg)
	if err != nil {
		return "", 0, err
	}
	if err := e.rt.StartContainer(ctx, id); err != nil {
		return id, 0, err
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-e.events:
			if ev.ContainerID == id && ev.Type == runtime.EventExited {
				return id, time.Since(start), nil
			}
		case <-timeout:
			return id, 0, errors.New("no exit event within 30s")
		}
	}
}

// lifecycle times create, start, stop and remove of a sleeping container
// that handles SIGTERM.
func (e *r1Env) lifecycle(ctx context.Context, n int) ([]Sample, error) {
	var create, start, stop, remove []time.Duration
	for i := range n {
		cfg := runtime.ContainerConfig{Name: fmt.Sprintf("sleep-%d-%d", e.seq, i), Rootfs: runtime.Rootfs{Path: e.rootfs},
			Command:   []string{"/bin/sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait $!"},
			Resources: runtime.Resources{CPURequestMilli: 1000}}
		t0 := time.Now()
		id, err := e.rt.CreateContainer(ctx, e.sandbox, cfg)
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		if err := e.rt.StartContainer(ctx, id); err != nil {
			return nil, err
		}
		t2 := time.Now()
		if err := e.rt.StopContainer(ctx, id, 10*time.Second); err != nil {
			return nil, err
		}
		t3 := time.Now()
		if err := e.rt.RemoveContainer(ctx, id); err != nil {
			return nil, err
		}
		t4 := time.Now()
		create, start = append(create, t1.Sub(t0)), append(start, t2.Sub(t1))
		stop, remove = append(stop, t3.Sub(t2)), append(remove, t4.Sub(t3))
	}
	sbPinned, err := e.sandboxes(ctx, n, false)
	if err != nil {
		return nil, err
	}
	sbPause, err := e.sandboxes(ctx, n, true)
	if err != nil {
		return nil, err
	}
	out := make([]Sample, 0, 6)
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"create p50", create}, {"start p50", start}, {"stop (TERM handled) p50", stop}, {"remove p50", remove},
		{"sandbox create+remove (pinned namespaces) p50", sbPinned},
		{"sandbox create+remove (shared PID: pause process) p50", sbPause}} {
		slices.Sort(s.d)
		out = append(out, Sample{Metric: s.name, Value: percentile(s.d, 50), Unit: "ms"})
	}
	return out, nil
}

// sandboxes times CreateSandbox + RemoveSandbox of an empty pod, with the
// namespaces pinned as files (every pod) or, for shareProcessNamespace,
// with a pause process holding the PID namespace.
func (e *r1Env) sandboxes(ctx context.Context, n int, sharePID bool) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		e.seq++
		start := time.Now()
		id, err := e.rt.CreateSandbox(ctx, runtime.SandboxConfig{Name: "sb", Namespace: "kbench",
			UID: fmt.Sprintf("sb-%d-%d", e.seq, i), LogDir: filepath.Join(e.dir, "logs"), ShareProcessNamespace: sharePID})
		if err != nil {
			return nil, err
		}
		if err := e.rt.RemoveSandbox(ctx, id); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func copyExe(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
