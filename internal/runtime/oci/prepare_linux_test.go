package oci

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/runtimetest"
)

// TestPrepare checks the split start the agent uses to overlap a pod's
// network attach with the container's creation: a prepared container's
// process exists but does not run its command until StartContainer; one
// removed before its start leaves nothing behind at once; one prepared
// before a restart of kserver starts after it.
func TestPrepare(t *testing.T) {
	for _, name := range []string{"runc", "crun"} {
		t.Run(name, func(t *testing.T) { testPrepare(t, name) })
	}
}

func testPrepare(t *testing.T, name string) {
	ctx := context.Background()
	env := newTestEnv(t, name)
	var rt *Runtime
	var stop func()
	open := func() {
		var err error
		if rt, err = Open(ctx, env.cfg); err != nil {
			t.Fatalf("Open: %v", err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = rt.Run(runCtx) }()
		stop = func() { cancel(); <-done }
	}
	open()
	t.Cleanup(func() {
		removeAll(t, rt)
		stop()
		checkClean(t, env)
	})
	sb, err := rt.CreateSandbox(ctx, runtime.SandboxConfig{Name: "prep", Namespace: "test", UID: "prep-" + name,
		LogDir: t.TempDir(), NetNSPath: netnstest.New(t, "kprep").Path()})
	if err != nil {
		t.Fatalf("CreateSandbox: %v", err)
	}
	prepared := func(n string) string {
		t.Helper()
		cfg := behave(env.rootfs, runtimetest.Behavior{Output: []string{"hello from " + n}})
		cfg.Name = n
		id, err := rt.CreateContainer(ctx, sb, cfg)
		if err != nil {
			t.Fatalf("CreateContainer %s: %v", n, err)
		}
		if err := rt.PrepareContainer(ctx, id); err != nil {
			t.Fatalf("PrepareContainer %s: %v", n, err)
		}
		st, err := rt.ContainerStatus(ctx, id)
		if err != nil || st.State != runtime.StateCreated || st.PID <= 0 || procStart(st.PID) == 0 {
			t.Fatalf("%s after prepare: %+v, %v; want Created with a live process", n, st, err)
		}
		if got := ociState(t, rt, id); got != "created" {
			t.Fatalf("%s after prepare: %s says %q, want created", n, name, got)
		}
		return id
	}
	started := func(id, n string) {
		t.Helper()
		if err := rt.StartContainer(ctx, id); err != nil {
			t.Fatalf("StartContainer %s: %v", n, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, _ := rt.ContainerStatus(ctx, id)
			b, _ := os.ReadFile(st.LogPath)
			if strings.Contains(string(b), "hello from "+n) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is %s and logged %q after its start", n, st.State, b)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	a := prepared("a")
	started(a, "a")

	b := prepared("b")
	rt.mu.Lock()
	monitor, mstart := rt.containers[b].rec.MonitorPID, rt.containers[b].rec.MonitorStart
	rt.mu.Unlock()
	begin := time.Now()
	if err := rt.RemoveContainer(ctx, b); err != nil {
		t.Fatalf("RemoveContainer of a prepared container: %v", err)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("removing a prepared container took %v (waited for its monitor instead of ending it)", took)
	}
	if monitorAlive(monitor, mstart) {
		t.Errorf("the monitor of the removed prepared container still runs")
	}

	c := prepared("c")
	stop()
	open()
	if st, err := rt.ContainerStatus(ctx, c); err != nil || st.State != runtime.StateCreated {
		t.Fatalf("prepared container after reopen: %+v, %v; want Created", st, err)
	}
	started(c, "c")
}

// ociState is what `<runtime> state` reports for a container.
func ociState(t *testing.T, rt *Runtime, id string) string {
	t.Helper()
	out, err := rt.cli(context.Background(), "state", id)
	if err != nil {
		t.Fatalf("%s state: %v", rt.cfg.Runtime, err)
	}
	var st struct{ Status string }
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("%s state: %v: %s", rt.cfg.Runtime, err, out)
	}
	return st.Status
}
