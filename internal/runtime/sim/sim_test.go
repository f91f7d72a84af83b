package sim

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/runtimetest"
)

func TestConformance(t *testing.T) {
	runtimetest.Run(t, runtimetest.Harness{
		New:       func(*testing.T) runtime.Runtime { return New(Config{}) },
		Container: scripted,
	})
}

// container scripts a conformance behaviour with annotations.
func scripted(_ *testing.T, b runtimetest.Behavior) runtime.ContainerConfig {
	a := map[string]string{}
	set := func(k, v string) { a[Prefix+k] = v }
	if len(b.Output) > 0 {
		set("log", strings.Join(b.Output, "\n"))
	}
	if b.Ticks > 0 {
		set("log-interval", b.TickEvery.String())
		set("run-for", (time.Duration(b.Ticks) * b.TickEvery).String())
	}
	if b.ExitAfter > 0 {
		set("run-for", b.ExitAfter.String())
	}
	if b.ExitNow {
		set("run-for", "1ns")
	}
	set("exit-code", strconv.Itoa(b.Exit))
	set("term-exit-code", strconv.Itoa(b.TermExit))
	if b.IgnoreTerm {
		set("ignore-term", "true")
	}
	if b.OOM {
		set("oom-after", "50ms")
	}
	if b.FailStart {
		set("fail-start", `exec: "/nonexistent": stat /nonexistent: no such file or directory`)
	}
	if b.HTTPPort > 0 {
		set("http-port", strconv.Itoa(int(b.HTTPPort)))
		set("http-body", b.HTTPBody)
	}
	if b.Busy {
		set("cpu", "500m")
	}
	return runtime.ContainerConfig{Command: []string{"/sim"}, Annotations: a}
}
