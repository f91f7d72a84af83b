// Package runtimetest is the conformance suite every implementation of the
// runtime contract runs (runtime/sim in plain tests, runtime/oci in
// root-only tests). Behaviour the suite needs from a container — print
// these lines, exit with this code, trap SIGTERM, use too much memory,
// serve HTTP — is described by a Behavior; each implementation's Harness
// turns it into a command (oci) or annotations (sim). The assertions are
// the same for both.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"kserver.dev/kserver/internal/runtime"
)

// Behavior is what a test container does.
type Behavior struct {
	// Output lines are written to stdout at start.
	Output []string
	// Ticks > 0 writes "tick 1" … "tick N", one every TickEvery, then exits.
	Ticks     int
	TickEvery time.Duration
	// ExitAfter > 0 exits that long after start; with Ticks, after the
	// ticks. Zero with no ticks runs until stopped.
	ExitAfter time.Duration
	// Exit is the code of a scripted exit (after ExitAfter or Ticks, or at
	// the end of stdin with EchoStdin); ExitNow exits right after Output.
	Exit    int
	ExitNow bool
	// TermExit is the code the process exits with on SIGTERM; IgnoreTerm
	// ignores SIGTERM instead (a stop then needs SIGKILL).
	TermExit   int
	IgnoreTerm bool
	// OOM allocates memory until the container's limit kills it.
	OOM bool
	// FailStart cannot be started (a missing executable).
	FailStart bool
	// EchoStdin copies stdin to stdout, then exits with Exit.
	EchoStdin bool
	// HTTPPort > 0 serves HTTPBody on GET / at that port.
	HTTPPort int32
	HTTPBody string
	// Busy burns CPU until stopped.
	Busy bool
}

// Harness adapts one implementation to the suite.
type Harness struct {
	// New returns a runtime over fresh state, ready to use; the harness
	// releases it with t.Cleanup.
	New func(t *testing.T) runtime.Runtime
	// Reopen returns a new runtime value over the state of rt, as a
	// restart of kserver does, after releasing rt without touching its
	// containers. Nil when the implementation keeps nothing across
	// restarts (sim); the re-adoption test is then skipped.
	Reopen func(t *testing.T, rt runtime.Runtime) runtime.Runtime
	// Sandbox completes a sandbox config for this implementation (oci
	// gives it a throwaway network namespace).
	Sandbox func(t *testing.T, cfg *runtime.SandboxConfig)
	// Container turns a behaviour into a container config (command,
	// rootfs, annotations); the suite sets the name and the stdio flags.
	Container func(t *testing.T, b Behavior) runtime.ContainerConfig
	// Clean, if set, fails the test when the runtime left anything behind
	// (mounts, cgroups, processes) once everything has been removed.
	Clean func(t *testing.T, rt runtime.Runtime)
	// Slow scales the suite's waits (1 when zero).
	Slow time.Duration
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	if h.Slow == 0 {
		h.Slow = 1
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *Harness)
	}{
		{"Sandbox", testSandbox},
		{"ExitCode", testExitCode},
		{"StartError", testStartError},
		{"ProcessConfig", testProcessConfig},
		{"StopTermHandled", testStopTermHandled},
		{"StopTermIgnored", testStopTermIgnored},
		{"OOMKilled", testOOMKilled},
		{"Logs", testLogs},
		{"LogsFollow", testLogsFollow},
		{"LogsPrevious", testLogsPrevious},
		{"Exec", testExec},
		{"ExecTTY", testExecTTY},
		{"Attach", testAttach},
		{"PortForward", testPortForward},
		{"Stats", testStats},
		{"Reopen", testReopen},
		{"Remove", testRemove},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, &h) })
	}
}

// pod makes a sandbox for a test and removes it at the end.
func (h *Harness) pod(t *testing.T, rt runtime.Runtime, mutate ...func(*runtime.SandboxConfig)) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	uid := hex.EncodeToString(b[:])
	cfg := runtime.SandboxConfig{
		Name: "conformance-" + uid[:6], Namespace: "default", UID: uid, Hostname: "conformance",
		LogDir: t.TempDir(), QOS: runtime.QOSBurstable,
	}
	if h.Sandbox != nil {
		h.Sandbox(t, &cfg)
	}
	for _, m := range mutate {
		m(&cfg)
	}
	id, err := rt.CreateSandbox(context.Background(), cfg)
	if err != nil {
		t.Fatalf("CreateSandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.RemoveSandbox(context.Background(), id); err != nil {
			t.Errorf("RemoveSandbox %s: %v", id, err)
		}
	})
	return id
}

// container creates a container with behaviour b in sandbox sb.
func (h *Harness) container(t *testing.T, rt runtime.Runtime, sb, name string, b Behavior, mutate ...func(*runtime.ContainerConfig)) string {
	t.Helper()
	cfg := h.Container(t, b)
	cfg.Name = name
	if b.EchoStdin {
		cfg.Stdin, cfg.StdinOnce = true, true
	}
	for _, m := range mutate {
		m(&cfg)
	}
	id, err := rt.CreateContainer(context.Background(), sb, cfg)
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", name, err)
	}
	return id
}

// started creates and starts a container.
func (h *Harness) started(t *testing.T, rt runtime.Runtime, sb, name string, b Behavior, mutate ...func(*runtime.ContainerConfig)) string {
	t.Helper()
	id := h.container(t, rt, sb, name, b, mutate...)
	if err := rt.StartContainer(context.Background(), id); err != nil {
		t.Fatalf("StartContainer %s: %v", name, err)
	}
	return id
}

// waitExited waits for a container to exit and returns its status.
func waitExited(t *testing.T, rt runtime.Runtime, id string, within time.Duration) runtime.ContainerStatus {
	t.Helper()
	var st runtime.ContainerStatus
	waitFor(t, within, "container to exit", func() bool {
		var err error
		st, err = rt.ContainerStatus(context.Background(), id)
		if err != nil {
			t.Fatalf("ContainerStatus: %v", err)
		}
		return st.State == runtime.StateExited
	})
	return st
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func status(t *testing.T, rt runtime.Runtime, id string) runtime.ContainerStatus {
	t.Helper()
	st, err := rt.ContainerStatus(context.Background(), id)
	if err != nil {
		t.Fatalf("ContainerStatus %s: %v", id, err)
	}
	return st
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
