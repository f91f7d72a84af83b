package runtimetest

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/runtime"
)

// idLine is id's output for uid and gid 1000, with or without names.
var idLine = regexp.MustCompile(`^uid=1000(\([^)]*\))? gid=1000(\([^)]*\))?( |$)`)

// testProcessConfig checks that the container's process gets what its
// config says — environment, working directory, user, the sandbox's
// hostname — and that an exec in it inherits them, as kubectl exec does.
func testProcessConfig(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	uid, gid := int64(1000), int64(1000)
	id := h.started(t, rt, sb, "configured", Behavior{Output: []string{"up"}}, func(c *runtime.ContainerConfig) {
		c.Env = append(c.Env, "GREETING=hello there", "EMPTY=")
		c.WorkingDir = "/tmp"
		c.User = runtime.User{UID: &uid, GID: &gid}
	})
	waitLog(t, rt, id, "up", 10*time.Second*h.Slow)
	var out, errb bytes.Buffer
	code, err := rt.Exec(ctxTimeout(t, 20*time.Second), id, runtime.ExecOptions{
		Command: []string{"sh", "-c", `echo "[$GREETING]"; echo "[$EMPTY]"; pwd; hostname; id`},
		Stdout:  &out, Stderr: &errb,
	})
	if err != nil || code != 0 {
		t.Fatalf("exec = %d, %v; stderr %q", code, err, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("exec printed %q, want 5 lines", out.String())
	}
	for i, want := range []string{"[hello there]", "[]", "/tmp", "conformance"} {
		if lines[i] != want {
			t.Errorf("line %d = %q, want %q (all: %q)", i+1, lines[i], want, out.String())
		}
	}
	if !idLine.MatchString(lines[4]) {
		t.Errorf("id = %q, want uid=1000 gid=1000", lines[4])
	}
}
