package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Node agent benchmarks: `kserver server`, `kserver agent` and `kserver
// sim` run as child processes on loopback, as a user runs them.

// agentIdle is long enough for the 5 s memory trim and a few rounds of the
// periodic work (leases, node status) that maps code back in.
const agentIdle = 30 * time.Second

// startServerWithAgent starts `kserver server --runtime sim` (embedded
// simulated node "bench") in a fresh folder and waits for /readyz.
func startServerWithAgent(ctx context.Context, env *Env) (*apiServer, error) {
	bin, err := kserverBinary(env)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(env.Dir, "agent-")
	if err != nil {
		return nil, err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	s := &apiServer{dir: dir, url: "https://127.0.0.1:" + strconv.Itoa(port)}
	s.cmd = exec.Command(bin, "server", "--data-dir", dir, "--runtime", "sim", "--bind-address", "127.0.0.1",
		"--node-ip", "127.0.0.1", "--https-listen-port", strconv.Itoa(port), "--node-name", "bench",
		"--write-kubeconfig", filepath.Join(dir, "kubeconfig.yaml"), "--config", "")
	s.cmd.Stderr = &s.stderr
	s.cmd.Env = append(os.Environ(), "KSERVER_CONFIG=")
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kserver: %w", err)
	}
	if err := s.waitReady(ctx, filepath.Join(dir, "server", "tls")); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w\n%s", err, s.stderr.String())
	}
	return s, nil
}

// agentProc is a `kserver agent` or `kserver sim` child process.
type agentProc struct {
	cmd     *exec.Cmd
	started time.Time
	stderr  bytes.Buffer
}

// startJoiner runs `kserver <args>` joining s with its node token.
func startJoiner(env *Env, s *apiServer, args ...string) (*agentProc, error) {
	bin, err := kserverBinary(env)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(s.dir, "node-")
	if err != nil {
		return nil, err
	}
	p := &agentProc{}
	args = append(args, "--server", s.url, "--token-file", filepath.Join(s.dir, "server", "node-token"),
		"--data-dir", dir, "--config", "")
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = &p.stderr
	p.cmd.Env = append(os.Environ(), "KSERVER_CONFIG=")
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kserver %s: %w", args[0], err)
	}
	return p, nil
}

func (p *agentProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func (p *agentProc) procStatus(field string) (int64, error) {
	a := &apiServer{cmd: p.cmd}
	return a.procStatus(field)
}

// readyNodes counts the nodes whose Ready condition is True.
func (s *apiServer) readyNodes(ctx context.Context, selector string) (int, error) {
	path := "/api/v1/nodes"
	if selector != "" {
		path += "?labelSelector=" + selector
	}
	code, body, err := s.do(ctx, http.MethodGet, path, "", nil, true)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("list nodes: %d", code)
	}
	var list struct {
		Items []struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return 0, err
	}
	n := 0
	for _, it := range list.Items {
		for _, c := range it.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				n++
			}
		}
	}
	return n, nil
}

// waitNodes polls every 2 ms until want nodes (matching selector) are
// Ready and returns when that was seen.
func (s *apiServer) waitNodes(ctx context.Context, selector string, want int, alive func() error) (time.Time, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := s.readyNodes(ctx, selector); err == nil && n >= want {
			return time.Now(), nil
		}
		if err := alive(); err != nil {
			return time.Time{}, err
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("%d nodes not Ready after 60s", want)
}

func exited(cmd *exec.Cmd, stderr *bytes.Buffer) func() error {
	return func() error {
		if cmd.ProcessState != nil {
			return errors.New("process exited: " + stderr.String())
		}
		return nil
	}
}

func f6Node() Benchmark {
	return Benchmark{
		ID:    "F6-NODE",
		Title: "Time to node Ready",
		Method: "On an empty data directory, `kserver server --runtime sim` (embedded simulated agent): process start →\n" +
			"its Node Ready, polled every 2 ms over HTTPS. Then `kserver agent --runtime sim` joins that server with the\n" +
			"node token (CA check, node certificate, registration): its process start → its Node Ready. `bin/kbench --only F6-NODE`",
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			s, err := startServerWithAgent(ctx, env)
			if err != nil {
				return nil, err
			}
			defer s.Close()
			at, err := s.waitNodes(ctx, "", 1, exited(s.cmd, &s.stderr))
			if err != nil {
				return nil, err
			}
			server := at.Sub(s.started)
			p, err := startJoiner(env, s, "agent", "--runtime", "sim", "--node-name", "joiner", "--node-ip", "127.0.0.2",
				"--node-label", "bench=joiner")
			if err != nil {
				return nil, err
			}
			defer p.stop()
			at, err = s.waitNodes(ctx, "bench%3Djoiner", 1, exited(p.cmd, &p.stderr))
			if err != nil {
				return nil, err
			}
			return []Sample{
				{Metric: "node Ready, kserver server --runtime sim, first start", Value: ms(server), Unit: "ms", Target: Target{"<=", 1000}},
				{Metric: "node Ready, kserver agent joining", Value: ms(at.Sub(p.started)), Unit: "ms", Target: Target{"<=", 1000}},
			}, nil
		},
	}
}

func f2() Benchmark {
	return Benchmark{
		ID:    "F2",
		Title: "Idle RSS of the node agent",
		Method: fmt.Sprintf("`kserver agent --runtime sim` joined to a `kserver server --runtime sim`, idle for %s after its Node\n"+
			"is Ready; VmRSS of the agent process and its anonymous part (RssAnon); both processes page out what\n"+
			"start-up used 5 s after they start (docs/footprint.md). A real-runtime agent adds the runtime's own\n"+
			"state but no more goroutines when idle. `bin/kbench --only F2`", agentIdle),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			return idleRSS(ctx, env, 1, "F2", 20, "agent", "--runtime", "sim", "--node-name", "joiner", "--node-ip", "127.0.0.2",
				"--node-label", "bench=joiner")
		},
	}
}

func f2Sim() Benchmark {
	const nodes = 100
	return Benchmark{
		ID:    "F2-SIM100",
		Title: "Idle RSS of 100 simulated nodes in one process",
		Method: fmt.Sprintf("`kserver sim --nodes %d` joined to a `kserver server --runtime sim`, idle for %s after all its Nodes\n"+
			"are Ready; VmRSS and RssAnon of the sim process. `bin/kbench --only F2-SIM100`", nodes, agentIdle),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			return idleRSS(ctx, env, nodes, "", 0, "sim", "--nodes", strconv.Itoa(nodes), "--node-label", "bench=joiner")
		},
	}
}

// idleRSS starts a server, then `kserver <args>` with want nodes, waits
// for them and the idle time, and samples the joiner's memory.
func idleRSS(ctx context.Context, env *Env, want int, _ string, target float64, args ...string) ([]Sample, error) {
	s, err := startServerWithAgent(ctx, env)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	p, err := startJoiner(env, s, args...)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	if _, err := s.waitNodes(ctx, "bench%3Djoiner", want, exited(p.cmd, &p.stderr)); err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(agentIdle):
	}
	rss, err := p.procStatus("VmRSS")
	if err != nil {
		return nil, err
	}
	anon, err := p.procStatus("RssAnon")
	if err != nil {
		return nil, err
	}
	t := Target{}
	if target > 0 {
		t = Target{"<=", target}
	}
	return []Sample{
		{Metric: "idle RSS", Value: float64(rss) / 1024, Unit: "MiB", Target: t},
		{Metric: "idle RSS, anonymous only", Value: float64(anon) / 1024, Unit: "MiB"},
	}, nil
}
