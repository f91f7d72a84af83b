package runtimetest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"kserver.dev/kserver/internal/runtime"
)

func testLogs(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "printer", Behavior{Output: []string{"one", "two", "three"}, ExitNow: true})
	waitExited(t, rt, id, 10*time.Second*h.Slow)
	st := status(t, rt, id)
	if want := st.LogPath; !strings.HasSuffix(want, "/printer/0.log") {
		t.Errorf("log path %q does not end in <container>/<attempt>.log", want)
	}
	tail := func(n int64) *int64 { return &n }
	cases := []struct {
		name string
		opts runtime.LogOptions
		want string
	}{
		{"all", runtime.LogOptions{}, "one\ntwo\nthree\n"},
		{"tail 2", runtime.LogOptions{TailLines: tail(2)}, "two\nthree\n"},
		{"tail 0", runtime.LogOptions{TailLines: tail(0)}, ""},
		{"tail 10", runtime.LogOptions{TailLines: tail(10)}, "one\ntwo\nthree\n"},
		{"limit 6", runtime.LogOptions{LimitBytes: 6}, "one\ntw"},
		{"since the future", runtime.LogOptions{Since: time.Now().Add(time.Hour)}, ""},
		{"since the past", runtime.LogOptions{Since: st.StartedAt.Add(-time.Minute)}, "one\ntwo\nthree\n"},
		{"follow an exited container", runtime.LogOptions{Follow: true}, "one\ntwo\nthree\n"},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		if err := rt.Logs(ctxTimeout(t, 10*time.Second), id, tc.opts, &buf); err != nil {
			t.Errorf("%s: Logs: %v", tc.name, err)
			continue
		}
		if buf.String() != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, buf.String(), tc.want)
		}
	}
	var buf bytes.Buffer
	if err := rt.Logs(context.Background(), id, runtime.LogOptions{Timestamps: true}, &buf); err != nil {
		t.Fatalf("Logs with timestamps: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		ts, text, _ := strings.Cut(line, " ")
		when, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || when.Before(st.StartedAt.Add(-time.Second)) || when.After(st.FinishedAt.Add(time.Second)) {
			t.Errorf("timestamped line %q: time %v (%v) not within the run", line, when, err)
		}
		if text == "" {
			t.Errorf("timestamped line %q has no text", line)
		}
	}
}

func testLogsFollow(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "ticker", Behavior{Ticks: 3, TickEvery: 300 * time.Millisecond * h.Slow, Exit: 0})
	w := &signalWriter{want: "tick 1\n", hit: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { errc <- rt.Logs(ctxTimeout(t, 30*time.Second*h.Slow), id, runtime.LogOptions{Follow: true}, w) }()
	select {
	case <-w.hit:
		if st := status(t, rt, id); st.State != runtime.StateRunning {
			t.Errorf("first line arrived only after the container was %s; follow must stream", st.State)
		}
	case err := <-errc:
		t.Fatalf("follow ended before the first tick: %v (got %q)", err, w.String())
	case <-time.After(20 * time.Second * h.Slow):
		t.Fatalf("no tick within 20s while following (got %q)", w.String())
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Logs follow: %v", err)
		}
	case <-time.After(20 * time.Second * h.Slow):
		t.Fatalf("follow did not end after the container exited (got %q)", w.String())
	}
	if got := w.String(); got != "tick 1\ntick 2\ntick 3\n" {
		t.Errorf("followed log = %q", got)
	}
	if st := status(t, rt, id); st.State != runtime.StateExited {
		t.Errorf("follow returned while the container is %s", st.State)
	}
}

func testLogsPrevious(t *testing.T, h *Harness) {
	ctx := context.Background()
	rt := h.New(t)
	sb := h.pod(t, rt)
	first := h.started(t, rt, sb, "app", Behavior{Output: []string{"first run"}, ExitNow: true, Exit: 1})
	waitExited(t, rt, first, 10*time.Second*h.Slow)
	var buf bytes.Buffer
	err := rt.Logs(ctx, first, runtime.LogOptions{Previous: true}, &buf)
	wantErr(t, "previous log of the first attempt", err, runtime.ErrNotFound)
	second := h.started(t, rt, sb, "app", Behavior{Output: []string{"second run"}, ExitNow: true},
		func(c *runtime.ContainerConfig) { c.Attempt = 1 })
	waitExited(t, rt, second, 10*time.Second*h.Slow)
	if err := rt.RemoveContainer(ctx, first); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	buf.Reset()
	if err := rt.Logs(ctx, second, runtime.LogOptions{Previous: true}, &buf); err != nil {
		t.Fatalf("Logs previous: %v", err)
	}
	if buf.String() != "first run\n" {
		t.Errorf("previous log = %q, want the first attempt's", buf.String())
	}
	buf.Reset()
	if err := rt.Logs(ctx, second, runtime.LogOptions{}, &buf); err != nil || buf.String() != "second run\n" {
		t.Errorf("current log = %q, %v", buf.String(), err)
	}
}

func testExec(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "target", Behavior{Output: []string{"up"}})
	waitLog(t, rt, id, "up", 10*time.Second*h.Slow)
	var out, errb bytes.Buffer
	code, err := rt.Exec(ctxTimeout(t, 20*time.Second), id, runtime.ExecOptions{
		Command: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, Stdout: &out, Stderr: &errb,
	})
	if err != nil || code != 7 || out.String() != "out\n" || errb.String() != "err\n" {
		t.Errorf("exec = %d, %v, stdout %q, stderr %q; want 7, out, err", code, err, out.String(), errb.String())
	}
	out.Reset()
	code, err = rt.Exec(ctxTimeout(t, 20*time.Second), id, runtime.ExecOptions{
		Command: []string{"cat"}, Stdin: strings.NewReader("piped in\n"), Stdout: &out,
	})
	if err != nil || code != 0 || out.String() != "piped in\n" {
		t.Errorf("exec cat = %d, %v, %q; want stdin echoed", code, err, out.String())
	}
	out.Reset()
	code, err = rt.Exec(ctxTimeout(t, 20*time.Second), id, runtime.ExecOptions{
		Command: []string{"hostname"}, Stdout: &out,
	})
	if err != nil || code != 0 || out.String() != "conformance\n" {
		t.Errorf("exec hostname = %d, %v, %q; want the sandbox's hostname", code, err, out.String())
	}
	if err := rt.StopContainer(context.Background(), id, 0); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	_, err = rt.Exec(ctxTimeout(t, 10*time.Second), id, runtime.ExecOptions{Command: []string{"true"}})
	wantErr(t, "exec in an exited container", err, runtime.ErrNotRunning)
}

func testExecTTY(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "tty", Behavior{Output: []string{"up"}})
	waitLog(t, rt, id, "up", 10*time.Second*h.Slow)
	resize := make(chan runtime.TerminalSize, 1)
	resize <- runtime.TerminalSize{Rows: 40, Cols: 120}
	var out bytes.Buffer
	code, err := rt.Exec(ctxTimeout(t, 20*time.Second), id, runtime.ExecOptions{
		Command: []string{"sh"}, TTY: true, Resize: resize, Stdout: &out,
		Stdin: strings.NewReader("stty size; tty; exit 5\n"),
	})
	if err != nil || code != 5 {
		t.Fatalf("exec -t = %d, %v (output %q); want 5", code, err, out.String())
	}
	for _, want := range []string{"40 120\r\n", "/dev/pts/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("TTY output %q lacks %q", out.String(), want)
		}
	}
}

func testAttach(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "echo", Behavior{EchoStdin: true, Exit: 11})
	stdinR, stdinW := io.Pipe()
	w := &signalWriter{want: "hello attach\n", hit: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		errc <- rt.Attach(ctxTimeout(t, 30*time.Second), id, runtime.AttachOptions{Stdin: stdinR, Stdout: w, Stderr: w})
	}()
	go func() { _, _ = io.WriteString(stdinW, "hello attach\n") }()
	select {
	case <-w.hit:
	case err := <-errc:
		t.Fatalf("attach ended before the echo: %v (got %q)", err, w.String())
	case <-time.After(20 * time.Second * h.Slow):
		t.Fatalf("the attached container did not echo stdin (got %q)", w.String())
	}
	_ = stdinW.Close()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Attach: %v", err)
		}
	case <-time.After(20 * time.Second * h.Slow):
		t.Fatalf("attach did not end after stdin closed")
	}
	if st := waitExited(t, rt, id, 10*time.Second*h.Slow); st.ExitCode != 11 {
		t.Errorf("after stdin closed (stdinOnce) the container exited %d, want 11", st.ExitCode)
	}
}

func testPortForward(t *testing.T, h *Harness) {
	rt := h.New(t)
	sb := h.pod(t, rt)
	h.started(t, rt, sb, "web", Behavior{HTTPPort: 8080, HTTPBody: "hello port-forward\n"})
	var body string
	waitFor(t, 20*time.Second*h.Slow, "the web server to answer through port-forward", func() bool {
		b, err := httpGet(rt, sb, 8080)
		body = b
		return err == nil
	})
	if body != "hello port-forward\n" {
		t.Errorf("GET / through port-forward = %q", body)
	}
	if _, err := httpGet(rt, sb, 8081); err == nil {
		t.Errorf("port-forward to a closed port succeeded")
	}
}

func testStats(t *testing.T, h *Harness) {
	ctx := context.Background()
	rt := h.New(t)
	sb := h.pod(t, rt)
	id := h.started(t, rt, sb, "busy", Behavior{Busy: true}, func(c *runtime.ContainerConfig) {
		c.Resources.CPURequestMilli, c.Resources.MemoryRequestBytes = 100, 8<<20
	})
	var u runtime.Usage
	waitFor(t, 20*time.Second*h.Slow, "non-zero CPU and memory usage", func() bool {
		var err error
		u, err = rt.ContainerStats(ctx, id)
		if err != nil {
			t.Fatalf("ContainerStats: %v", err)
		}
		return u.CPUUsageNanos > 0 && u.MemoryWorkingSetBytes > 0
	})
	if u.Timestamp.IsZero() || u.MemoryUsageBytes < u.MemoryWorkingSetBytes {
		t.Errorf("usage %+v: no timestamp, or working set above usage", u)
	}
	pu, err := rt.SandboxStats(ctx, sb)
	if err != nil || pu.CPUUsageNanos < u.CPUUsageNanos || pu.MemoryWorkingSetBytes == 0 {
		t.Errorf("SandboxStats = %+v, %v; want at least the container's usage", pu, err)
	}
}

// httpGet does GET / through a port-forward stream.
func httpGet(rt runtime.Runtime, sb string, port int32) (string, error) {
	client, server := net.Pipe()
	defer client.Close()
	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { errc <- rt.PortForward(ctx, sb, port, server) }()
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(client, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
		if ferr := <-errc; ferr != nil {
			return "", ferr
		}
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(client), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(b), nil
}

// waitLog waits until the container's log contains line.
func waitLog(t *testing.T, rt runtime.Runtime, id, line string, within time.Duration) {
	t.Helper()
	waitFor(t, within, fmt.Sprintf("log line %q", line), func() bool { return containsLog(t, rt, id, line) })
}

func containsLog(t *testing.T, rt runtime.Runtime, id, line string) bool {
	var buf bytes.Buffer
	if err := rt.Logs(context.Background(), id, runtime.LogOptions{}, &buf); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	return strings.Contains(buf.String(), line+"\n")
}

// signalWriter collects output and closes hit once it contains want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	hit  chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.hit) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
