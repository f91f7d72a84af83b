package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cli runs the OCI runtime binary with the runtime root and returns its
// combined output; a failure carries the runtime's own message.
func (r *Runtime) cli(ctx context.Context, args ...string) ([]byte, error) {
	full := args
	if len(args) == 0 || args[0] != "--version" {
		full = append([]string{"--root", r.runtimeRoot()}, args...)
	}
	cmd := exec.CommandContext(ctx, r.cfg.RuntimePath, full...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		verb := ""
		if len(args) > 0 {
			verb = args[0]
		}
		return out, fmt.Errorf("%s %s: %w: %s", r.cfg.Runtime, verb, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// killArgs signals a container; with a shared PID namespace its init is
// not PID 1 of the namespace, so every process in its cgroup is signalled.
func (r *Runtime) killArgs(c *container, sig string) []string {
	args := []string{"kill"}
	if sb := r.sandboxes[c.rec.SandboxID]; sb != nil && sb.rec.PauseID != "" && !c.rec.Pause {
		args = append(args, "--all")
	}
	return append(args, c.rec.ID, strings.TrimPrefix(strings.ToUpper(sig), "SIG"))
}

// runtimeState is one entry of `<runtime> list --format json`.
type runtimeState struct {
	ID     string `json:"id"`
	PID    int    `json:"pid"`
	Status string `json:"status"`
}

// list reports every container the OCI runtime knows under our root.
func (r *Runtime) list(ctx context.Context) (map[string]runtimeState, error) {
	out, err := r.cli(ctx, "list", "--format", "json")
	if err != nil {
		return nil, err
	}
	var states []runtimeState
	if s := bytes.TrimSpace(out); len(s) > 0 && !bytes.Equal(s, []byte("null")) {
		if err := json.Unmarshal(s, &states); err != nil {
			return nil, fmt.Errorf("%s list: %w", r.cfg.Runtime, err)
		}
	}
	m := make(map[string]runtimeState, len(states))
	for _, s := range states {
		m[s.ID] = s
	}
	return m, nil
}

// procStart is a process's start time in clock ticks since boot (field 22
// of /proc/<pid>/stat), 0 if the process does not exist.
func procStart(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may contain spaces and parentheses; fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0 // a zombie has finished its work
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

// monitorAlive reports whether conmon with this PID and start time runs.
func monitorAlive(pid int, start uint64) bool {
	return pid > 0 && start != 0 && procStart(pid) == start
}

// waitGone waits until the process is gone (or is another process now).
func waitGone(ctx context.Context, pid int, start uint64, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for monitorAlive(pid, start) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// signalProcess sends sig to pid if it is still the process started at start.
func signalProcess(pid int, start uint64, sig unix.Signal) {
	if monitorAlive(pid, start) {
		_ = unix.Kill(pid, sig)
	}
}
