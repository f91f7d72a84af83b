package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"

	"kserver.dev/kserver/internal/runtime/sim"
)

// streamFixture is a running simulated node with its HTTP API on a test
// server and one running pod "p" (container "c").
type streamFixture struct {
	n   *node
	srv *httptest.Server
	cfg *rest.Config
}

func newStreamFixture(t *testing.T, annotations map[string]string) *streamFixture {
	t.Helper()
	set := startAPI(t)
	n := startNode(t, set, simConfig("n1", nil), false)
	waitNodeReady(t, set, "n1")
	createPod(t, set, simPod("p", "n1", annotations, corev1.RestartPolicyAlways))
	waitPod(t, set, "default", "p", "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	srv := httptest.NewServer(n.a.StreamServer(StreamConfig{}))
	t.Cleanup(srv.Close)
	return &streamFixture{n: n, srv: srv, cfg: &rest.Config{Host: srv.URL}}
}

func (f *streamFixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStreamLogs(t *testing.T) {
	f := newStreamFixture(t, map[string]string{"sim.kserver.dev/log": "hello\nworld"})
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/containerLogs/default/p/c", 200, "^hello\nworld\n$"},
		{"/containerLogs/default/p/c?tailLines=1", 200, "^world\n$"},
		{"/containerLogs/default/p/c?limitBytes=3", 200, "^hel$"},
		{"/containerLogs/default/p/c?timestamps=true", 200, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z hello\n\S+ world\n$`},
		{"/containerLogs/default/p/c?sinceTime=2999-01-01T00:00:00Z", 200, "^$"},
		{"/containerLogs/default/p/c?previous=true", 400, `^previous terminated container "c" in pod "p" not found\n$`},
		{"/containerLogs/default/p/x", 404, `^container "x" not found in pod "p"\n$`},
		{"/containerLogs/default/nope/c", 404, `^pod "nope" does not exist\n$`},
		{"/containerLogs/default/p/c?sinceSeconds=5&sinceTime=2020-01-01T00:00:00Z", 400, "at most one of"},
		{"/containerLogs/default/p/c?tailLines=-1", 400, "tailLines"},
	} {
		code, body := f.get(t, tc.path)
		if code != tc.code || !regexp.MustCompile(tc.want).MatchString(body) {
			t.Errorf("GET %s = %d %q, want %d matching %q", tc.path, code, body, tc.code, tc.want)
		}
	}
}

func TestStreamLogsFollow(t *testing.T) {
	f := newStreamFixture(t, map[string]string{"sim.kserver.dev/log": "start", "sim.kserver.dev/log-interval": "100ms"})
	resp, err := http.Get(f.srv.URL + "/containerLogs/default/p/c?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type = %q", ct)
	}
	// Lines arrive one by one while the container runs.
	buf := make([]byte, 0, 256)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(buf), "tick 3\n") && time.Now().Before(deadline) {
		chunk := make([]byte, 64)
		n, err := resp.Body.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			t.Fatalf("follow ended early: %v (%q)", err, buf)
		}
	}
	if !strings.HasPrefix(string(buf), "start\ntick 1\ntick 2\ntick 3\n") {
		t.Fatalf("followed log = %q", buf)
	}
}

func TestStreamLogsOfWaitingContainer(t *testing.T) {
	set := startAPI(t)
	n := startNode(t, set, simConfig("n1", nil), false)
	waitNodeReady(t, set, "n1")
	p := simPod("p", "n1", map[string]string{"sim.kserver.dev/fail-start": "boom"}, corev1.RestartPolicyAlways)
	createPod(t, set, p)
	waitPod(t, set, "default", "p", "a restart", func(p *corev1.Pod) bool {
		cs := containerState(p, "c")
		return cs != nil && cs.RestartCount >= 1 && cs.State.Waiting != nil
	})
	srv := httptest.NewServer(n.a.StreamServer(StreamConfig{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/containerLogs/default/p/c?previous=true")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("previous log of a crash-looping container: %d", resp.StatusCode)
	}
	if got := logStatusError(&corev1.Pod{ObjectMeta: p.ObjectMeta, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}}},
		"c", false).Error(); got != `container "c" in pod "p" is waiting to start: ContainerCreating` {
		t.Errorf("waiting message = %q", got)
	}
}

// execURL is an exec request of the kubelet API.
func (f *streamFixture) execURL(command []string, stdin, tty bool) *url.URL {
	q := url.Values{"output": {"1"}}
	if !tty {
		q.Set("error", "1")
	} else {
		q.Set("tty", "1")
	}
	if stdin {
		q.Set("input", "1")
	}
	q["command"] = command
	u, _ := url.Parse(f.srv.URL + "/exec/default/p/c?" + q.Encode())
	return u
}

func TestStreamExec(t *testing.T) {
	f := newStreamFixture(t, nil)
	executors := map[string]func(u *url.URL) (remotecommand.Executor, error){
		"spdy": func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewSPDYExecutor(f.cfg, "POST", u)
		},
		"websocket": func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(f.cfg, "GET", u.String())
		},
	}
	for name, newExec := range executors {
		t.Run(name, func(t *testing.T) {
			ex, err := newExec(f.execURL([]string{"sh", "-c", "echo out; echo err >&2; exit 3"}, false, false))
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			err = ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
			var ce exec.CodeExitError
			if !errors.As(err, &ce) || ce.Code != 3 {
				t.Errorf("exit: %v, want code 3", err)
			}
			if out.String() != "out\n" || errOut.String() != "err\n" {
				t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
			}

			ex, _ = newExec(f.execURL([]string{"cat"}, true, false))
			out.Reset()
			err = ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{
				Stdin: strings.NewReader("through stdin\n"), Stdout: &out, Stderr: io.Discard})
			if err != nil || out.String() != "through stdin\n" {
				t.Errorf("cat: %v %q", err, out.String())
			}

			ex, _ = newExec(f.execURL([]string{"sh"}, true, true))
			out.Reset()
			sizes := &sizeQueue{sizes: []remotecommand.TerminalSize{{Width: 120, Height: 40}}}
			err = ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{
				Stdin:  &slowReader{r: strings.NewReader("stty size\nexit 4\n"), wait: 200 * time.Millisecond},
				Stdout: &out, Tty: true, TerminalSizeQueue: sizes})
			if !errors.As(err, &ce) || ce.Code != 4 || !strings.Contains(out.String(), "40 120") {
				t.Errorf("tty shell: %v %q", err, out.String())
			}
		})
	}
}

// TestStreamExecEndsWhenClientGoes: a command whose client disconnects
// is ended, over both transports, rather than running to its end.
func TestStreamExecEndsWhenClientGoes(t *testing.T) {
	f := newStreamFixture(t, nil)
	ended := make(chan string, 1)
	api := f.n.a.StreamServer(StreamConfig{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.ServeHTTP(w, r)
		ended <- r.Method
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/exec/default/p/c?command=sh&command=-c&command=echo+started%3B+sleep+60&output=1&error=1")
	cfg := &rest.Config{Host: srv.URL}
	for name, newExec := range map[string]func() (remotecommand.Executor, error){
		"spdy": func() (remotecommand.Executor, error) { return remotecommand.NewSPDYExecutor(cfg, "POST", u) },
		"websocket": func() (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
		},
	} {
		t.Run(name, func(t *testing.T) {
			ex, err := newExec()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := &signalWriter{want: "started\n", seen: make(chan struct{})}
			go func() {
				_ = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: started, Stderr: io.Discard})
			}()
			select {
			case <-started.seen:
			case <-time.After(10 * time.Second):
				t.Fatal("the command did not start")
			}
			cancel()
			select {
			case <-ended:
			case <-time.After(10 * time.Second):
				t.Fatal("the session outlived its client")
			}
		})
	}
}

// signalWriter closes seen once what was written contains want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

// slowReader waits before its first read so that a terminal size is
// delivered before the shell reads its commands.
type slowReader struct {
	r    io.Reader
	wait time.Duration
	done bool
}

func (s *slowReader) Read(p []byte) (int, error) {
	if !s.done {
		time.Sleep(s.wait)
		s.done = true
	}
	return s.r.Read(p)
}

type sizeQueue struct{ sizes []remotecommand.TerminalSize }

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if len(q.sizes) == 0 {
		select {} // no more resizes for the rest of the session
	}
	s := q.sizes[0]
	q.sizes = q.sizes[1:]
	return &s
}

func TestStreamExecErrors(t *testing.T) {
	f := newStreamFixture(t, nil)
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/exec/default/p/x?command=true&output=1", 500, `container not found ("x")`},
		{"/exec/default/nope/c?command=true&output=1", 404, "pod does not exist"},
		{"/exec/default/p/c?command=true", 400, "you must specify at least 1 of stdin, stdout, stderr"},
		{"/exec/default/p/c?command=true&output=1", 400, "unable to upgrade"},
	} {
		code, body := f.get(t, tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %q, want %d with %q", tc.path, code, body, tc.code, tc.want)
		}
	}
}

func TestStreamPortForward(t *testing.T) {
	f := newStreamFixture(t, map[string]string{"sim.kserver.dev/http-port": "8080", "sim.kserver.dev/http-body": "hi\n"})
	u, _ := url.Parse(f.srv.URL + "/portForward/default/p")
	dialers := map[string]func() (httpstream.Dialer, error){
		"spdy": func() (httpstream.Dialer, error) {
			rt, up, err := spdy.RoundTripperFor(f.cfg)
			return spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", u), err
		},
		"websocket": func() (httpstream.Dialer, error) { return portforward.NewSPDYOverWebsocketDialer(u, f.cfg) },
	}
	for name, newDialer := range dialers {
		t.Run(name, func(t *testing.T) {
			d, err := newDialer()
			if err != nil {
				t.Fatal(err)
			}
			stop, ready := make(chan struct{}), make(chan struct{})
			var errOut bytes.Buffer
			pf, err := portforward.NewOnAddresses(d, []string{"127.0.0.1"}, []string{"0:8080", "0:9"}, stop, ready, io.Discard, &errOut)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pf.ForwardPorts() }()
			defer func() { close(stop); <-done }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("port-forward: %v", err)
			}
			ports, _ := pf.GetPorts()
			for i := 0; i < 3; i++ { // several connections over one session
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", ports[0].Local))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "hi\n" {
					t.Errorf("GET through port-forward = %q", b)
				}
			}
		})
	}
}

// TestStreamPortForwardError: a connection to a port nobody listens on
// gets the kubelet's message on its error stream, which kubectl prints.
func TestStreamPortForwardError(t *testing.T) {
	f := newStreamFixture(t, map[string]string{"sim.kserver.dev/http-port": "8080"})
	u, _ := url.Parse(f.srv.URL + "/portForward/default/p")
	rt, up, err := spdy.RoundTripperFor(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", u).Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, "9")
	h.Set(corev1.PortForwardRequestIDHeader, "0")
	errStream, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	errStream.Close() // nothing to say from this side
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	if _, err := conn.CreateStream(h); err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(errStream)
	want := regexp.MustCompile(`^error forwarding port 9 to pod p_default, uid \S+: dial tcp 127\.0\.0\.1:9: connect: connection refused$`)
	if !want.Match(msg) {
		t.Errorf("error stream = %q", msg)
	}
	// A stream without a port is refused.
	h.Del(corev1.PortHeader)
	h.Set(corev1.PortForwardRequestIDHeader, "1")
	if _, err := conn.CreateStream(h); err == nil {
		t.Errorf("a stream without a port header was accepted")
	}
}

func TestStreamStatsAndHealth(t *testing.T) {
	f := newStreamFixture(t, map[string]string{"sim.kserver.dev/cpu": "250m", "sim.kserver.dev/memory": "64Mi"})
	if code, body := f.get(t, "/healthz"); code != 200 || body != "ok" {
		t.Errorf("healthz = %d %q", code, body)
	}
	read := func() Summary {
		code, body := f.get(t, "/stats/summary")
		var s Summary
		if code != 200 || json.Unmarshal([]byte(body), &s) != nil {
			t.Fatalf("stats/summary = %d %q", code, body)
		}
		return s
	}
	first := read()
	if len(first.Pods) != 1 || first.Pods[0].PodRef.Name != "p" || len(first.Pods[0].Containers) != 1 {
		t.Fatalf("summary pods = %+v", first.Pods)
	}
	c := first.Pods[0].Containers[0]
	if c.Name != "c" || *c.Memory.WorkingSetBytes != 64<<20 || c.CPU.UsageNanoCores != nil {
		t.Errorf("first sample: %+v %+v %+v (no rate yet)", c, c.CPU, c.Memory)
	}
	time.Sleep(1100 * time.Millisecond)
	second := read()
	rate := second.Pods[0].Containers[0].CPU.UsageNanoCores
	if rate == nil || *rate < 240e6 || *rate > 260e6 {
		t.Errorf("cpu rate = %v, want about 250m", rate)
	}
	if second.Node.NodeName != "n1" || second.Node.CPU.UsageNanoCores == nil || *second.Node.Memory.WorkingSetBytes != 64<<20 {
		t.Errorf("node stats = %+v %+v %+v", second.Node, second.Node.CPU, second.Node.Memory)
	}
}

func TestStreamStatsOfEmptySimulatedNode(t *testing.T) {
	srv := httptest.NewServer(newStreamServer(streamHost{node: "idle", rt: sim.New(sim.Config{}), simulated: true}, StreamConfig{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/stats/summary")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Summary
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	// kubectl top node lists it with zero usage rather than leaving it out.
	if s.Node.NodeName != "idle" || len(s.Pods) != 0 || s.Node.CPU == nil || s.Node.CPU.UsageNanoCores == nil ||
		*s.Node.CPU.UsageNanoCores != 0 || *s.Node.Memory.WorkingSetBytes != 0 {
		t.Errorf("summary of an empty simulated node: %+v %+v", s.Node, s.Node.CPU)
	}
}

func TestStreamAuthorize(t *testing.T) {
	h := newStreamServer(streamHost{node: "n"}, StreamConfig{Authorize: func(r *http.Request) error {
		switch r.Header.Get("X-Who") {
		case "":
			return ErrUnauthenticated
		case "apiserver":
			return nil
		}
		return fmt.Errorf("user=%s, verb=get, resource=nodes, subresource=proxy", r.Header.Get("X-Who"))
	}})
	for who, want := range map[string]int{"": 401, "pod": 403, "apiserver": 200} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header.Set("X-Who", who)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%q: %d %q, want %d", who, rec.Code, rec.Body, want)
		}
	}
}
