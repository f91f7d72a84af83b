package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/server"
)

// TestJoinedAgentNodeAPI: a `kserver agent` that joined over HTTPS serves
// logs, exec, port-forward and stats to the API server on its own HTTPS
// port, with the serving certificate it got at join; stock kubectl reaches
// a pod on it through the API server, and the port admits only the API
// server's client certificate.
func TestJoinedAgentNodeAPI(t *testing.T) {
	k := e2e.FindKubectl(t)
	c, url := startServer(t)
	agentDir := runJoinedAgent(t, url, filepath.Join(c.DataDir, "server", "node-token"), "far", "127.0.0.3")
	eventually(t, k, c, regexp.MustCompile(`(?m)^far\s+Ready\s`), "get", "nodes")

	if r := k.Run(c, "", "run", "p", "--image", "busybox", "--overrides", `{"spec":{"nodeName":"far"}}`,
		"--annotations", "sim.kserver.dev/log=hello from far", "--annotations", "sim.kserver.dev/http-port=8080",
		"--annotations", "sim.kserver.dev/http-body=served far away", "--annotations", "sim.kserver.dev/cpu=150m",
		"--annotations", "sim.kserver.dev/memory=48Mi"); r.Err != nil {
		t.Fatalf("kubectl run: %v %s", r.Err, r.Stderr)
	}
	eventually(t, k, c, regexp.MustCompile(`(?m)^p\s+1/1\s+Running\s`), "get", "pods")

	if r := k.Run(c, "", "logs", "p"); r.Err != nil || r.Stdout != "hello from far\n" {
		t.Errorf("kubectl logs: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
	// The newest kubectl speaks WebSocket; an old one, when installed, SPDY.
	for _, k := range withOldKubectl(k) {
		if r := k.Run(c, "in\n", "exec", "-i", "p", "--", "sh", "-c", "cat; echo out; exit 3"); exitCode(r.Err) != 3 ||
			r.Stdout != "in\nout\n" || r.Stderr != "command terminated with exit code 3\n" {
			t.Errorf("%s exec: %v %q %q", k.Path, r.Err, r.Stdout, r.Stderr)
		}
		if got := portForwardGET(t, k, c, "pod/p", ":8080"); strings.TrimSpace(got) != "served far away" {
			t.Errorf("GET through %s port-forward = %q", k.Path, got)
		}
	}
	eventually(t, k, c, regexp.MustCompile(`^p\s+150m\s+48Mi\s*\n$`), "top", "pod", "p", "--no-headers")
	eventually(t, k, c, regexp.MustCompile(`(?m)^far\s+150m\s+\d+%\s+48Mi\s`), "top", "node", "far", "--no-headers")

	if r := k.Run(c, "", "get", "--raw", "/api/v1/nodes/far/proxy/pods"); r.Err != nil || !strings.Contains(r.Stdout, `"name":"p"`) {
		t.Errorf("nodes/proxy pods: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
	checkNodeAPIAuthorization(t, k, c, agentDir)
}

// TestSimNodesNodeAPI: the nodes of a `kserver sim` process (another
// process, joined over HTTPS) each serve the node API on their loopback
// address with the fleet's serving certificate.
func TestSimNodesNodeAPI(t *testing.T) {
	k := e2e.FindKubectl(t)
	c, url := startServer(t)
	sim := exec.Command(os.Args[0], "-test.run=^$")
	sim.Env = append(os.Environ(), "KSERVER_TEST_SIM_SERVER="+url, "KSERVER_TEST_SIM_NODES=2",
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
	eventually(t, k, c, regexp.MustCompile(`(?s)sim-0\s+Ready\s.*sim-1\s+Ready\s`), "get", "nodes", "-l", "kind=sim")
	if r := k.Run(c, "", "run", "q", "--image", "busybox", "--overrides", `{"spec":{"nodeName":"sim-1"}}`,
		"--annotations", "sim.kserver.dev/log=hello from sim-1", "--annotations", "sim.kserver.dev/cpu=200m",
		"--annotations", "sim.kserver.dev/memory=32Mi"); r.Err != nil {
		t.Fatalf("kubectl run: %v %s", r.Err, r.Stderr)
	}
	eventually(t, k, c, regexp.MustCompile(`(?m)^q\s+1/1\s+Running\s`), "get", "pods")
	if r := k.Run(c, "", "logs", "q"); r.Err != nil || r.Stdout != "hello from sim-1\n" {
		t.Errorf("kubectl logs: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
	if r := k.Run(c, "", "exec", "q", "--", "hostname"); r.Err != nil || r.Stdout != "q\n" {
		t.Errorf("kubectl exec: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
	// 200m of 4 CPUs, 32Mi of 8Gi; sim-0 runs nothing.
	eventually(t, k, c, regexp.MustCompile(`^sim-0\s+0m\s+0%\s+0Mi\s+0%\s*\nsim-1\s+200m\s+5%\s+32Mi\s+0%\s*\n$`),
		"top", "node", "-l", "kind=sim", "--no-headers")
}

// withOldKubectl adds kubectl 1.27 (SPDY only) beside k when it is
// installed next to it.
func withOldKubectl(k *e2e.Kubectl) []*e2e.Kubectl {
	old := filepath.Join(filepath.Dir(k.Path), "kubectl.1.27")
	if _, err := os.Stat(old); err != nil || old == k.Path {
		return []*e2e.Kubectl{k}
	}
	return []*e2e.Kubectl{k, {Path: old, Minor: 27}}
}

// runJoinedAgent runs `kserver agent --runtime sim` in-process until the
// test ends and returns its data directory.
func runJoinedAgent(t *testing.T, url, tokenFile, name, ip string) string {
	t.Helper()
	cfg := server.DefaultAgentConfig()
	cfg.Server, cfg.TokenFile, cfg.DataDir = url, tokenFile, t.TempDir()
	cfg.NodeName, cfg.NodeIP, cfg.Runtime, cfg.KubeletPort = name, ip, "sim", 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.RunAgent(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	return cfg.DataDir
}

// checkNodeAPIAuthorization calls the node's HTTPS port directly: its
// certificate is verified by the kubelet serving CA for the node's address;
// no client certificate is 401, the node's own certificate 403, the API
// server's 200.
func checkNodeAPIAuthorization(t *testing.T, k *e2e.Kubectl, c *e2e.Cluster, agentDir string) {
	t.Helper()
	r := k.Run(c, "", "get", "node", "far", "-o", "jsonpath={.status.addresses[0].address}:{.status.daemonEndpoints.kubeletEndpoint.Port}")
	addr := r.Stdout
	if !regexp.MustCompile(`^127\.0\.0\.3:[1-9]\d*$`).MatchString(addr) {
		t.Fatalf("node endpoint = %q %s", addr, r.Stderr)
	}
	tlsDir := filepath.Join(c.DataDir, "server", "tls")
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "kubelet-serving-ca.crt"))
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("kubelet serving CA: %v", err)
	}
	load := func(dir, name string) []tls.Certificate {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{pair}
	}
	for _, tc := range []struct {
		who   string
		certs []tls.Certificate
		code  int
		body  string
	}{
		{"no certificate", nil, 401, "Unauthorized"},
		{"the node's certificate", load(filepath.Join(agentDir, "agent"), "client-kubelet"), 403,
			"Forbidden (user=system:node:far, verb=get, resource=nodes, subresource=pods)"},
		{"the API server's certificate", load(tlsDir, "client-kube-apiserver"), 200, `"name":"p"`},
	} {
		cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, Certificates: tc.certs, MinVersion: tls.VersionTLS12}}}
		resp, err := cl.Get("https://" + addr + "/pods")
		if err != nil {
			t.Errorf("%s: %v", tc.who, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s: GET /pods = %d %q, want %d with %q", tc.who, resp.StatusCode, b, tc.code, tc.body)
		}
		if tc.code == 200 {
			var list corev1.PodList
			if err := json.Unmarshal(b, &list); err != nil || len(list.Items) != 1 {
				t.Errorf("GET /pods: %v %d pods", err, len(list.Items))
			}
		}
	}
}

// portForwardGET runs kubectl port-forward to target and returns the body
// of a GET through the local port it chose.
func portForwardGET(t *testing.T, k *e2e.Kubectl, c *e2e.Cluster, target, ports string) string {
	t.Helper()
	cmd := exec.Command(k.Path, "port-forward", "--address", "127.0.0.1", target, ports)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "HOME="+c.DataDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) ->`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			}
		}
	}()
	select {
	case p := <-port:
		resp, err := http.Get("http://127.0.0.1:" + p + "/")
		if err != nil {
			t.Fatalf("GET through port-forward: %v (%s)", err, stderr.String())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	case <-time.After(60 * time.Second):
		t.Fatalf("kubectl port-forward did not start: %s", stderr.String())
	}
	return ""
}

// exitCode of a finished command (0 on success, -1 if it did not run).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
