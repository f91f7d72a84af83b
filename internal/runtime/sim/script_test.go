package sim

import (
	"bytes"
	"context"
	"errors"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"kserver.dev/kserver/internal/runtime"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newFake(t *testing.T) (*Runtime, *testclock.FakeClock, string) {
	t.Helper()
	clk := testclock.NewFakeClock(t0)
	r := New(Config{Clock: clk})
	sb, err := r.CreateSandbox(context.Background(), runtime.SandboxConfig{
		Name: "web", Namespace: "default", UID: "uid-1", Annotations: map[string]string{
			Prefix + "run-for":          "10s",
			Prefix + "exit-code":        "1",
			Prefix + "exit-code.worker": "0",
		}})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk, sb
}

func run(t *testing.T, r *Runtime, sb, name string, attempt uint32, ann map[string]string) string {
	t.Helper()
	id, err := r.CreateContainer(context.Background(), sb, runtime.ContainerConfig{
		Name: name, Attempt: attempt, Command: []string{"app"}, Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	return id
}

func state(t *testing.T, r *Runtime, id string) runtime.ContainerStatus {
	t.Helper()
	st, err := r.ContainerStatus(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A pod annotation scripts every container; a ".<name>" key narrows it.
func TestScriptFromPodAnnotations(t *testing.T) {
	r, clk, sb := newFake(t)
	app := run(t, r, sb, "app", 0, nil)
	worker := run(t, r, sb, "worker", 0, nil)
	clk.Step(9 * time.Second)
	if st := state(t, r, app); st.State != runtime.StateRunning {
		t.Fatalf("app after 9s: %s", st.State)
	}
	clk.Step(time.Second)
	waitState(t, r, app, runtime.StateExited)
	if st := state(t, r, app); st.ExitCode != 1 || st.Reason != runtime.ReasonError || !st.FinishedAt.Equal(t0.Add(10*time.Second)) {
		t.Errorf("app: %+v", st)
	}
	waitState(t, r, worker, runtime.StateExited)
	if st := state(t, r, worker); st.ExitCode != 0 || st.Reason != runtime.ReasonCompleted {
		t.Errorf("worker: code %d reason %s, want 0 Completed", st.ExitCode, st.Reason)
	}
}

// Every attempt crashes the same way (a crash loop), unless fail-attempts
// lets later attempts run.
func TestCrashLoopAndHealing(t *testing.T) {
	r, clk, sb := newFake(t)
	heal := map[string]string{Prefix + "fail-attempts": "2"}
	for attempt := uint32(0); attempt < 3; attempt++ {
		crash := run(t, r, sb, "crash", attempt, nil)
		flaky := run(t, r, sb, "flaky", attempt, heal)
		clk.Step(10 * time.Second)
		waitState(t, r, crash, runtime.StateExited)
		if attempt < 2 {
			waitState(t, r, flaky, runtime.StateExited)
		} else if st := state(t, r, flaky); st.State != runtime.StateRunning {
			t.Errorf("flaky attempt %d is %s, want it to keep running", attempt, st.State)
		}
	}
}

func TestProbes(t *testing.T) {
	r, clk, sb := newFake(t)
	id := run(t, r, sb, "svc", 0, map[string]string{
		Prefix + "run-for": "0s", Prefix + "ready-after": "3s", Prefix + "liveness-fail-after": "1m"})
	ctx := context.Background()
	probe := func(k runtime.ProbeKind) bool {
		ok, err := r.Probe(ctx, id, k)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if probe(runtime.ProbeReadiness) || !probe(runtime.ProbeLiveness) {
		t.Errorf("at start: ready or not live")
	}
	clk.Step(3 * time.Second)
	if !probe(runtime.ProbeReadiness) || !probe(runtime.ProbeStartup) {
		t.Errorf("after ready-after: not ready")
	}
	clk.Step(time.Minute)
	if probe(runtime.ProbeLiveness) {
		t.Errorf("after liveness-fail-after: still live")
	}
}

func TestBadAnnotationIsInvalidConfig(t *testing.T) {
	r, _, sb := newFake(t)
	_, err := r.CreateContainer(context.Background(), sb, runtime.ContainerConfig{
		Name: "x", Command: []string{"x"}, Annotations: map[string]string{Prefix + "run-for": "soon"}})
	if !errors.Is(err, runtime.ErrInvalidConfig) || !strings.Contains(err.Error(), "run-for") {
		t.Errorf("got %v, want an invalid config naming run-for", err)
	}
}

// Logs are computed from the clock: ticks appear as time passes.
func TestLogTicks(t *testing.T) {
	r, clk, sb := newFake(t)
	id := run(t, r, sb, "ticker", 0, map[string]string{
		Prefix + "run-for": "0s", Prefix + "log": "hello", Prefix + "log-interval": "2s"})
	clk.Step(5 * time.Second)
	var buf bytes.Buffer
	if err := r.Logs(context.Background(), id, runtime.LogOptions{Timestamps: true}, &buf); err != nil {
		t.Fatal(err)
	}
	want := "2026-11-21T12:00:00Z hello\n2026-11-21T12:00:02Z tick 1\n2026-11-21T12:00:04Z tick 2\n"
	if buf.String() != want {
		t.Errorf("logs = %q, want %q", buf.String(), want)
	}
}

func TestShell(t *testing.T) {
	r, _, sb := newFake(t)
	id, _ := r.CreateContainer(context.Background(), sb, runtime.ContainerConfig{
		Name: "sh", Command: []string{"sh"}, Env: []string{"GREETING=hi there"},
		Annotations: map[string]string{Prefix + "run-for": "0s"}})
	_ = r.StartContainer(context.Background(), id)
	cases := []struct {
		cmd  []string
		out  string
		code int
	}{
		{[]string{"echo", "a", "b"}, "a b\n", 0},
		{[]string{"sh", "-c", `echo "$GREETING"; false && echo no || echo 'yes $GREETING'`}, "hi there\nyes $GREETING\n", 0},
		{[]string{"sh", "-c", "false; exit $?"}, "", 1},
		{[]string{"sh", "-c", "env | grep x"}, "", 2},
		{[]string{"printenv", "HOSTNAME"}, "web\n", 0},
		{[]string{"/bin/nothing"}, "", 127},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		code, err := r.Exec(context.Background(), id, runtime.ExecOptions{Command: tc.cmd, Stdout: &out})
		if err != nil || code != tc.code || out.String() != tc.out {
			t.Errorf("%q = %d %q %v, want %d %q", tc.cmd, code, out.String(), err, tc.code, tc.out)
		}
	}
}

// Thousands of running containers cost no goroutines and little memory.
func TestScale(t *testing.T) {
	r := New(Config{})
	ctx := context.Background()
	before := goruntime.NumGoroutine()
	var ms0, ms1 goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms0)
	const pods = 5000
	for i := 0; i < pods; i++ {
		sb, err := r.CreateSandbox(ctx, runtime.SandboxConfig{Name: "p" + strconv.Itoa(i), UID: "uid-" + strconv.Itoa(i), Namespace: "load",
			Annotations: map[string]string{Prefix + "run-for": "1h"}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "app", Command: []string{"app"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	goruntime.GC()
	goruntime.ReadMemStats(&ms1)
	if g := goruntime.NumGoroutine(); g > before+2 {
		t.Errorf("%d goroutines for %d running containers (was %d)", g, pods, before)
	}
	perPod := (ms1.HeapAlloc - ms0.HeapAlloc) / pods
	t.Logf("heap per running pod (sandbox + container): %d bytes", perPod)
	if perPod > 8<<10 {
		t.Errorf("heap per pod %d bytes, want under 8 KiB", perPod)
	}
}

// waitState waits for a timer callback (run in its own goroutine by the
// fake clock) to have taken effect.
func waitState(t *testing.T, r *Runtime, id string, want runtime.ContainerState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for state(t, r, id).State != want {
		if time.Now().After(deadline) {
			t.Fatalf("container %s never became %s", id, want)
		}
		time.Sleep(time.Millisecond)
	}
}
