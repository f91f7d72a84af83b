package runtimetest

import (
	"context"
	"testing"
	"time"

	"kserver.dev/kserver/internal/runtime"
)

func testSandbox(t *testing.T, h *Harness) {
	ctx := context.Background()
	rt := h.New(t)
	var cfg runtime.SandboxConfig
	id := h.pod(t, rt, func(c *runtime.SandboxConfig) { cfg = *c })
	st, err := rt.SandboxStatus(ctx, id)
	if err != nil {
		t.Fatalf("SandboxStatus: %v", err)
	}
	if st.State != runtime.SandboxReady || st.UID != cfg.UID || st.Name != cfg.Name || st.LogDir != cfg.LogDir {
		t.Fatalf("status = %+v, want Ready with the pod's identity", st)
	}
	if st.NetNSPath == "" {
		t.Errorf("status has no network namespace path")
	}
	list, err := rt.ListSandboxes(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("ListSandboxes = %v, %v; want just %s", list, err, id)
	}
	_, err = rt.CreateSandbox(ctx, cfg)
	wantErr(t, "second sandbox for the same pod attempt", err, runtime.ErrAlreadyExists)
	_, err = rt.CreateSandbox(ctx, runtime.SandboxConfig{Name: "x"})
	wantErr(t, "sandbox without namespace and uid", err, runtime.ErrInvalidConfig)

	c := h.started(t, rt, id, "app", Behavior{})
	if err := rt.StopSandbox(ctx, id); err != nil {
		t.Fatalf("StopSandbox: %v", err)
	}
	if st, _ := rt.SandboxStatus(ctx, id); st.State != runtime.SandboxNotReady {
		t.Errorf("after stop the sandbox is %s, want NotReady", st.State)
	}
	if cs := status(t, rt, c); cs.State != runtime.StateExited {
		t.Errorf("after StopSandbox the container is %s, want Exited", cs.State)
	}
	_, err = rt.CreateContainer(ctx, id, h.Container(t, Behavior{}))
	if err == nil {
		t.Errorf("CreateContainer in a stopped sandbox succeeded")
	}
	if err := rt.RemoveSandbox(ctx, id); err != nil {
		t.Fatalf("RemoveSandbox: %v", err)
	}
	_, err = rt.SandboxStatus(ctx, id)
	wantErr(t, "status of a removed sandbox", err, runtime.ErrNotFound)
	_, err = rt.ContainerStatus(ctx, c)
	wantErr(t, "status of a removed sandbox's container", err, runtime.ErrNotFound)
	if err := rt.RemoveSandbox(ctx, id); err != nil {
		t.Errorf("second RemoveSandbox: %v", err)
	}
}

func testExitCode(t *testing.T, h *Harness) {
	ctx := context.Background()
	rt := h.New(t)
	events := rt.Watch(ctxTimeout(t, time.Minute))
	sb := h.pod(t, rt)
	fail := h.container(t, rt, sb, "fail", Behavior{Exit: 3, ExitAfter: 100 * time.Millisecond})
	st := status(t, rt, fail)
	if st.State != runtime.StateCreated || st.Name != "fail" || st.SandboxID != sb || st.CreatedAt.IsZero() {
		t.Fatalf("after create: %+v", st)
	}
	before := time.Now()
	if err := rt.StartContainer(ctx, fail); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	if st := status(t, rt, fail); st.State != runtime.StateRunning || st.PID <= 0 {
		t.Errorf("after start: state %s pid %d, want Running with a pid", st.State, st.PID)
	}
	st = waitExited(t, rt, fail, 20*time.Second*h.Slow)
	if st.ExitCode != 3 || st.Reason != runtime.ReasonError {
		t.Errorf("exit = %d %q, want 3 Error", st.ExitCode, st.Reason)
	}
	if st.StartedAt.Before(before.Add(-time.Second)) || !st.FinishedAt.After(st.StartedAt) {
		t.Errorf("times: started %v finished %v (started after %v)", st.StartedAt, st.FinishedAt, before)
	}
	if err := rt.StartContainer(ctx, fail); err == nil {
		t.Errorf("starting an exited container succeeded")
	}
	ok := h.started(t, rt, sb, "ok", Behavior{ExitNow: true})
	if st := waitExited(t, rt, ok, 20*time.Second*h.Slow); st.ExitCode != 0 || st.Reason != runtime.ReasonCompleted {
		t.Errorf("exit = %d %q, want 0 Completed", st.ExitCode, st.Reason)
	}
	_, err := rt.CreateContainer(ctx, sb, func() runtime.ContainerConfig {
		c := h.Container(t, Behavior{})
		c.Name = "ok"
		return c
	}())
	wantErr(t, "second container with the same name and attempt", err, runtime.ErrAlreadyExists)

	seen := map[string]bool{}
	waitFor(t, 5*time.Second, "started and exited events for both containers", func() bool {
		for {
			select {
			case e := <-events:
				seen[string(e.Type)+e.ContainerID] = e.SandboxID == sb
				continue
			default:
			}
			return seen["Started"+fail] && seen["Exited"+fail] && seen["Started"+ok] && seen["Exited"+ok]
		}
	})
}

func testStartError(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.container(t, rt, sb, "broken", Behavior{FailStart: true})
	if err := rt.StartContainer(context.Background(), id); err == nil {
		t.Fatalf("StartContainer of a container that cannot start succeeded")
	}
	st := status(t, rt, id)
	if st.State != runtime.StateExited || st.Reason != runtime.ReasonStartError || st.ExitCode != 128 || st.Message == "" {
		t.Errorf("status = %s %q %d %q, want Exited StartError 128 with a message", st.State, st.Reason, st.ExitCode, st.Message)
	}
}

func testStopTermHandled(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "trap", Behavior{TermExit: 3, Output: []string{"ready"}})
	waitLog(t, rt, id, "ready", 10*time.Second*h.Slow)
	start := time.Now()
	if err := rt.StopContainer(context.Background(), id, 30*time.Second); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop of a container that handles SIGTERM took %v", d)
	}
	if st := status(t, rt, id); st.State != runtime.StateExited || st.ExitCode != 3 {
		t.Errorf("after stop: %s code %d, want Exited 3 (its TERM handler)", st.State, st.ExitCode)
	}
	if err := rt.StopContainer(context.Background(), id, time.Second); err != nil {
		t.Errorf("stopping an exited container: %v", err)
	}
}

func testStopTermIgnored(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "stubborn", Behavior{IgnoreTerm: true, Output: []string{"ready"}})
	waitLog(t, rt, id, "ready", 10*time.Second*h.Slow)
	grace := 700 * time.Millisecond
	start := time.Now()
	if err := rt.StopContainer(context.Background(), id, grace); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if d := time.Since(start); d < grace {
		t.Errorf("stop returned after %v, before the grace period %v ended", d, grace)
	}
	if st := status(t, rt, id); st.State != runtime.StateExited || st.ExitCode != 137 || st.Reason != runtime.ReasonError {
		t.Errorf("after stop: %s %d %q, want Exited 137 Error (SIGKILL)", st.State, st.ExitCode, st.Reason)
	}
}

func testOOMKilled(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "hog", Behavior{OOM: true}, func(c *runtime.ContainerConfig) {
		c.Resources.MemoryLimitBytes = 16 << 20
	})
	st := waitExited(t, rt, id, 30*time.Second*h.Slow)
	if st.Reason != runtime.ReasonOOMKilled || st.ExitCode != 137 {
		t.Errorf("exit = %d %q, want 137 OOMKilled", st.ExitCode, st.Reason)
	}
}

func testRemove(t *testing.T, h *Harness) {
	ctx := context.Background()
	rt := h.New(t)
	sb := h.pod(t, rt)
	running := h.started(t, rt, sb, "running", Behavior{Output: []string{"up"}})
	exited := h.started(t, rt, sb, "exited", Behavior{ExitNow: true})
	created := h.container(t, rt, sb, "created", Behavior{})
	waitLog(t, rt, running, "up", 10*time.Second*h.Slow)
	waitExited(t, rt, exited, 10*time.Second*h.Slow)
	logPath := status(t, rt, running).LogPath

	if err := rt.RemoveContainer(ctx, running); err != nil {
		t.Fatalf("RemoveContainer of a running container: %v", err)
	}
	_, err := rt.ContainerStatus(ctx, running)
	wantErr(t, "status after remove", err, runtime.ErrNotFound)
	if err := rt.RemoveContainer(ctx, running); err != nil {
		t.Errorf("second RemoveContainer: %v", err)
	}
	list, err := rt.ListContainers(ctx, runtime.ContainerFilter{SandboxID: sb})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListContainers = %d containers, %v; want exited and created", len(list), err)
	}
	if list[0].ID != exited || list[1].ID != created {
		t.Errorf("ListContainers order = %s, %s; want oldest first", list[0].Name, list[1].Name)
	}
	only, _ := rt.ListContainers(ctx, runtime.ContainerFilter{State: runtime.StateCreated})
	if len(only) != 1 || only[0].ID != created {
		t.Errorf("filter by state Created = %v", only)
	}
	if err := rt.RemoveSandbox(ctx, sb); err != nil {
		t.Fatalf("RemoveSandbox: %v", err)
	}
	if all, _ := rt.ListContainers(ctx, runtime.ContainerFilter{}); len(all) != 0 {
		t.Errorf("containers left after RemoveSandbox: %v", all)
	}
	if logPath == "" {
		t.Errorf("running container reported no log path")
	}
	if h.Clean != nil {
		h.Clean(t, rt)
	}
}

func testReopen(t *testing.T, h *Harness) {
	if h.Reopen == nil {
		t.Skip("this runtime keeps no state across restarts")
	}
	ctx := context.Background()
	rt := h.New(t)
	sb := h.pod(t, rt)
	long := h.started(t, rt, sb, "long", Behavior{TermExit: 3, Output: []string{"before"}})
	short := h.started(t, rt, sb, "short", Behavior{ExitAfter: 1500 * time.Millisecond * h.Slow, Exit: 4})
	done := h.started(t, rt, sb, "done", Behavior{ExitNow: true, Exit: 2})
	created := h.container(t, rt, sb, "created", Behavior{})
	waitLog(t, rt, long, "before", 10*time.Second*h.Slow)
	waitExited(t, rt, done, 10*time.Second*h.Slow)
	pid := status(t, rt, long).PID

	rt2 := h.Reopen(t, rt)
	sbs, err := rt2.ListSandboxes(ctx)
	if err != nil || len(sbs) != 1 || sbs[0].ID != sb || sbs[0].State != runtime.SandboxReady {
		t.Fatalf("after reopen ListSandboxes = %+v, %v", sbs, err)
	}
	want := map[string]runtime.ContainerState{long: runtime.StateRunning, done: runtime.StateExited, created: runtime.StateCreated}
	for id, state := range want {
		st := status(t, rt2, id)
		if st.State != state {
			t.Errorf("after reopen %s is %s, want %s", st.Name, st.State, state)
		}
	}
	if st := status(t, rt2, long); st.PID != pid {
		t.Errorf("after reopen long has pid %d, want the same process %d", st.PID, pid)
	}
	if st := status(t, rt2, done); st.ExitCode != 2 {
		t.Errorf("after reopen done has exit code %d, want 2", st.ExitCode)
	}
	if st := waitExited(t, rt2, short, 20*time.Second*h.Slow); st.ExitCode != 4 {
		t.Errorf("short exited with %d after reopen, want 4", st.ExitCode)
	}
	if err := rt2.StartContainer(ctx, created); err != nil {
		t.Errorf("starting a container created before the restart: %v", err)
	}
	if err := rt2.StopContainer(ctx, long, 10*time.Second); err != nil {
		t.Fatalf("StopContainer after reopen: %v", err)
	}
	if st := status(t, rt2, long); st.ExitCode != 3 {
		t.Errorf("long exited with %d after reopen, want 3", st.ExitCode)
	}
	if !containsLog(t, rt2, long, "before") {
		t.Errorf("log written before the restart is not readable after it")
	}
	if err := rt2.RemoveSandbox(ctx, sb); err != nil {
		t.Fatalf("RemoveSandbox after reopen: %v", err)
	}
	if h.Clean != nil {
		h.Clean(t, rt2)
	}
}
