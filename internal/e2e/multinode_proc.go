package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/netns"
	kruntime "kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/oci"
	"kserver.dev/kserver/internal/server"
)

// nodeSpecEnv carries a node process's configuration from the harness to
// RunNodeProcess.
const nodeSpecEnv = "KSERVER_E2E_NODE_SPEC"

// nodeSpec is what one node process runs: `kserver server` or `kserver
// agent` with these settings.
type nodeSpec struct {
	Server *server.Config      `json:"server,omitempty"`
	Agent  *server.AgentConfig `json:"agent,omitempty"`
}

// RunNodeProcess runs this process as a MultiNode node when the harness
// started it as one, and then exits; otherwise it returns at once. The
// TestMain of every package that calls StartMultiNode calls it first. The
// node stops (as on SIGTERM) when its standard input closes, which also
// happens when the test process dies.
func RunNodeProcess() {
	raw := os.Getenv(nodeSpecEnv)
	if raw == "" {
		return
	}
	var spec nodeSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "node spec:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch {
	case spec.Server != nil:
		err = server.RunWithLogger(ctx, *spec.Server, logger, func(net.Addr, *apiserver.Server) { fmt.Println("ready") })
	case spec.Agent != nil:
		err = server.RunAgent(ctx, *spec.Agent, logger)
	default:
		err = errors.New("node spec names neither server nor agent")
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "kserver exited:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// nodeProc is a running node process.
type nodeProc struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	logPath string
	ready   chan struct{}
	done    chan struct{}
	err     error
	once    sync.Once
}

// startNodeProc starts the test binary as a node inside n's namespace,
// logging to <data-dir>.log; the process is stopped when the test ends.
func startNodeProc(t *testing.T, n *ClusterNode, spec nodeSpec) *nodeProc {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{name: n.Name, logPath: n.DataDir + ".log", ready: make(chan struct{}), done: make(chan struct{})}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(self, "-test.run=^$")
	p.cmd.Env = append(os.Environ(), nodeSpecEnv+"="+string(raw))
	p.cmd.Stderr = logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	// Started from a thread inside the node's namespace, the process is
	// born there: every socket, link and rule it makes stays there.
	if err := n.NetNS.Do(func() error { return p.cmd.Start() }); err != nil {
		t.Fatalf("start %s: %v", n.Name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				p.once.Do(func() { close(p.ready) })
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("stop %s: %v", n.Name, err)
		}
		if t.Failed() {
			t.Logf("log of %s (last lines):\n%s", n.Name, p.logTail(60))
		}
	})
	return p
}

// waitReady waits for the server's readiness line.
func (p *nodeProc) waitReady(within time.Duration) error {
	select {
	case <-p.ready:
		return nil
	case <-p.done:
		return fmt.Errorf("%s exited: %v", p.name, p.err)
	case <-time.After(within):
		return fmt.Errorf("%s not ready after %s", p.name, within)
	}
}

// stop closes the process's input (a graceful stop) and kills it if it
// has not exited within 45 s. Stopping a stopped process does nothing.
func (p *nodeProc) stop() error {
	_ = p.stdin.Close()
	select {
	case <-p.done:
		return nil
	case <-time.After(45 * time.Second):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s did not stop within 45s and was killed", p.name)
}

// running reports whether the process has not exited.
func (p *nodeProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// logTail is the end of the process's log.
func (p *nodeProc) logTail(lines int) string {
	b, _ := os.ReadFile(p.logPath)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// WaitNodeReady waits until the node is Ready and has a pod CIDR.
func (m *MultiNode) WaitNodeReady(t *testing.T, name string) *corev1.Node {
	t.Helper()
	set := m.Client(t)
	var last *corev1.Node
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		n, err := set.Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = n
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && n.Spec.PodCIDR != "" {
					return n
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("node %s not Ready with a pod CIDR within 2m: podCIDR %q, conditions %+v", name, last.Spec.PodCIDR, last.Status.Conditions)
	}
	t.Fatalf("node %s never registered", name)
	return nil
}

// Client is an admin client through the relay.
func (m *MultiNode) Client(t testing.TB) *client.Set {
	t.Helper()
	set, err := client.New(m.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// relay accepts connections on a loopback port of the test process and
// connects each to target from inside a namespace: kubectl and client-go
// reach the API server on the underlay without any change to the root
// namespace.
type relay struct {
	ln     net.Listener
	ns     *netns.NS
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

func startRelay(t *testing.T, ns *netns.NS, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, ns: ns, target: target, conns: map[net.Conn]bool{}}
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.serve(c)
	}
}

func (r *relay) serve(c net.Conn) {
	var up net.Conn
	err := r.ns.Do(func() error {
		var err error
		up, err = net.DialTimeout("tcp", r.target, 10*time.Second)
		return err
	})
	if err != nil {
		_ = c.Close()
		return
	}
	if !r.track(c, up) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, up)
	r.mu.Unlock()
}

// track records a connection pair; false (and both closed) once the relay
// is closed.
func (r *relay) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		r.conns[c] = true
	}
	return true
}

func (r *relay) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.conns = nil
}

// cleanupClusterNode removes what a node process left after it stopped:
// the runtime's sandboxes with their pod cgroups, mounts below the data
// folder, the run folder (cleanupNode), and the pod log folders the agent
// made in the default log root.
func cleanupClusterNode(t *testing.T, rtName, dataDir string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs []string
	rt, err := oci.Open(ctx, oci.Config{Runtime: rtName, RunDir: server.RuntimeRunDir(dataDir), StateDir: filepath.Join(dataDir, "agent", "runtime")})
	if err == nil {
		sbs, _ := rt.ListSandboxes(ctx)
		for _, sb := range sbs {
			dir := sb.LogDir
			if dir == "" {
				dir = kruntime.LogDir(kruntime.DefaultLogRoot, sb.Namespace, sb.Name, sb.UID)
			}
			if strings.HasPrefix(dir, kruntime.DefaultLogRoot+"/") {
				logs = append(logs, dir)
			}
		}
	}
	cleanupNode(t, rtName, dataDir)
	for _, d := range logs {
		if err := os.RemoveAll(d); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// keepCgroups removes, when the test ends, the pod cgroup parents
// (kubepods, kubepods/burstable, kubepods/besteffort) that did not exist
// before it, in every hierarchy, once they are empty.
func keepCgroups(t *testing.T) {
	var made []string
	hiers, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hiers {
		if !h.IsDir() {
			continue
		}
		base := filepath.Join("/sys/fs/cgroup", h.Name(), strings.TrimPrefix(oci.DefaultCgroupRoot, "/"))
		for _, d := range []string{filepath.Join(base, "burstable"), filepath.Join(base, "besteffort"), base} {
			if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
				made = append(made, d)
			}
		}
	}
	t.Cleanup(func() {
		for _, d := range made {
			_ = syscall.Rmdir(d) // busy (another test's pods) or absent: left
		}
	})
}
