package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/server"
)

// TestMain lets the test binary play `kserver sim` in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("KSERVER_TEST_SIM_SERVER") != "" {
		cfg := server.DefaultSimConfig()
		cfg.Server, cfg.TokenFile, cfg.DataDir = os.Getenv("KSERVER_TEST_SIM_SERVER"), os.Getenv("KSERVER_TEST_SIM_TOKEN"), os.Getenv("KSERVER_TEST_SIM_DIR")
		cfg.Nodes, _ = strconv.Atoi(os.Getenv("KSERVER_TEST_SIM_NODES"))
		cfg.Capacity = []string{"cpu=4", "memory=8Gi"}
		cfg.NodeLabels = []string{"kind=sim"}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }() // the parent closes stdin to stop us
		if err := server.RunSim(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startServer runs `kserver server --runtime sim` in-process.
func startServer(t *testing.T) (*e2e.Cluster, string) {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.BindAddress, cfg.HTTPSListenPort = dir, "127.0.0.1", port
	cfg.NodeName, cfg.NodeIP, cfg.Runtime = "main", "127.0.0.1", "sim"
	cfg.WriteKubeconfig = filepath.Join(dir, "kubeconfig.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- server.RunWithLogger(ctx, cfg, slog.New(slog.DiscardHandler), func(net.Addr, *apiserver.Server) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return &e2e.Cluster{DataDir: dir, Kubeconfig: cfg.WriteKubeconfig, Port: port}, fmt.Sprintf("https://127.0.0.1:%d", port)
}

// eventually runs kubectl until out matches want.
func eventually(t *testing.T, k *e2e.Kubectl, c *e2e.Cluster, want *regexp.Regexp, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last e2e.Result
	for time.Now().Before(deadline) {
		last = k.Run(c, "", args...)
		if last.Err == nil && want.MatchString(last.Stdout) {
			return last.Stdout
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kubectl %s: want %s, last output:\n%s%s", strings.Join(args, " "), want, last.Stdout, last.Stderr)
	return ""
}

func TestEmbeddedSimAgentWithKubectl(t *testing.T) {
	k := e2e.FindKubectl(t)
	c, url := startServer(t)

	out := eventually(t, k, c, regexp.MustCompile(`(?m)^main\s+Ready\s+control-plane,master\s+\S+\s+v1\.37\.2\s*$`), "get", "nodes")
	if !strings.HasPrefix(out, "NAME   STATUS   ROLES                  AGE   VERSION\n") {
		t.Errorf("get nodes header:\n%s", out)
	}
	wide := k.Run(c, "", "get", "nodes", "-o", "wide")
	if !regexp.MustCompile(`(?m)^main\s+Ready\s+control-plane,master\s+\S+\s+v1\.37\.2\s+127\.0\.0\.1\s+<none>\s+.+\s+sim://0\.1\.0\s*$`).MatchString(wide.Stdout) {
		t.Errorf("get nodes -o wide:\n%s%s", wide.Stdout, wide.Stderr)
	}

	if r := k.Run(c, "", "run", "web", "--image", "nginx:1.27", "--overrides", `{"spec":{"nodeName":"main"}}`); r.Err != nil {
		t.Fatalf("kubectl run: %v %s", r.Err, r.Stderr)
	}
	eventually(t, k, c, regexp.MustCompile(`(?m)^web\s+1/1\s+Running\s+0\s+`), "get", "pods")

	desc := k.Run(c, "", "describe", "node", "main")
	for _, want := range []string{
		"Roles:              control-plane,master", "HolderIdentity:  main", "KubeletReady                 kubelet is posting ready status",
		"InternalIP:  127.0.0.1", "Container Runtime Version:  sim://0.1.0", "Kubelet Version:            v1.37.2",
		"Non-terminated Pods:          (1 in total)", "Starting kubelet.", "Node main status is now: NodeReady",
	} {
		if !strings.Contains(desc.Stdout, want) {
			t.Errorf("describe node lacks %q:\n%s%s", want, desc.Stdout, desc.Stderr)
		}
	}

	// Simulated nodes join over HTTPS from another process with the node token.
	sim := exec.Command(os.Args[0], "-test.run=^$")
	sim.Env = append(os.Environ(), "KSERVER_TEST_SIM_SERVER="+url, "KSERVER_TEST_SIM_NODES=5",
		"KSERVER_TEST_SIM_TOKEN="+filepath.Join(c.DataDir, "server", "node-token"), "KSERVER_TEST_SIM_DIR="+c.DataDir)
	stdin, err := sim.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var simLog strings.Builder
	sim.Stderr = &simLog
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := sim.Wait(); err != nil {
			t.Errorf("sim process: %v\n%s", err, simLog.String())
		}
	})
	eventually(t, k, c, regexp.MustCompile(`(?s)(sim-\d\s+Ready\s+<none>.*){5}`), "get", "nodes", "-l", "kind=sim")
	nodes := k.Run(c, "", "get", "node", "sim-3", "-o", "jsonpath={.status.capacity.cpu} {.status.addresses[0].address}")
	if nodes.Stdout != "4 127.1.0.4" {
		t.Errorf("sim-3 capacity and address: %q", nodes.Stdout)
	}
	if r := k.Run(c, "", "run", "job", "--image", "busybox", "--restart", "Never", "--annotations", "sim.kserver.dev/run-for=200ms",
		"--overrides", `{"spec":{"nodeName":"sim-3"}}`); r.Err != nil {
		t.Fatalf("kubectl run: %v %s", r.Err, r.Stderr)
	}
	eventually(t, k, c, regexp.MustCompile(`(?m)^job\s+0/1\s+Completed\s+0\s+\S+\s+10\.\S+\s+sim-3\s`), "get", "pods", "-o", "wide")

	// kubectl delete returns once the agent has stopped the containers and deleted the pod.
	start := time.Now()
	if r := k.Run(c, "", "delete", "pod", "web"); r.Err != nil || !strings.Contains(r.Stdout, `pod "web" deleted`) {
		t.Fatalf("delete: %v %s %s", r.Err, r.Stdout, r.Stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("kubectl delete took %s", d)
	}
	if r := k.Run(c, "", "get", "pod", "web"); r.Err == nil {
		t.Errorf("pod still there after delete: %s", r.Stdout)
	}
}
