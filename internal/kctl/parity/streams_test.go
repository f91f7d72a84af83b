package parity

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/kctl"
	"kserver.dev/kserver/internal/server"
)

// The streaming verbs (logs, exec, attach, cp, top, port-forward) against
// kserver with its embedded simulated node: the sim runtime's pods print
// the log lines, run the shell commands and serve the HTTP bodies their
// annotations name.

const streamManifest = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
  annotations:
    sim.kserver.dev/http-port.app: "8080"
    sim.kserver.dev/http-body: "hello from web\n"
    sim.kserver.dev/log.app: "app line 1\napp line 2\napp line 3"
    sim.kserver.dev/log.side: "side says hi"
    sim.kserver.dev/cpu: "25m"
    sim.kserver.dev/memory: "40Mi"
spec:
  containers:
  - {name: app, image: busybox, ports: [{containerPort: 8080}]}
  - {name: side, image: busybox}
---
apiVersion: v1
kind: Pod
metadata:
  name: att
spec:
  containers:
  - {name: c, image: busybox, stdin: true}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dep
spec:
  replicas: 2
  selector:
    matchLabels: {app: dep}
  template:
    metadata:
      labels: {app: dep}
      annotations:
        sim.kserver.dev/log: "from the deployment"
        sim.kserver.dev/http-port: "8080"
        sim.kserver.dev/http-body: "hello from dep\n"
    spec:
      containers:
      - {name: c, image: busybox}
---
apiVersion: v1
kind: Service
metadata: {name: dep}
spec:
  selector: {app: dep}
  ports: [{port: 80, targetPort: 8080}]
`

// finSetup starts a pod that logs one line and exits after two seconds,
// so that `logs -f` has something to follow to its end.
var finSetup = []string{
	"delete pod fin -n {NS} --ignore-not-found --now",
	"run fin -n {NS} --image=busybox --restart=Never --annotations=sim.kserver.dev/log=started --annotations=sim.kserver.dev/run-for=2s",
	"wait -n {NS} --for=condition=Ready pod/fin --timeout=30s",
}

var streamCorpus = []pcase{
	// logs
	{args: "logs web"}, {args: "logs web -c side"}, {args: "logs web app"}, {args: "logs web --all-containers --prefix", unordered: true}, // kubectl keeps the requests in a map
	{args: "logs web -c app --tail=1"}, {args: "logs web -c app --limit-bytes=5"}, {args: "logs web -p -c app"},
	{args: "logs web -c nope", minMinor: 34}, {args: "logs nope"}, {args: "logs deploy/nope"},
	{args: "logs -l app=dep --prefix", unordered: true}, {args: "logs deploy/dep"}, {args: "logs svc/dep"},
	{args: "logs deploy/dep --all-pods", unordered: true}, {args: "logs -f fin", setup: finSetup},
	{args: "logs -f fin --timestamps=false -c fin", setup: finSetup},
	// exec
	{args: "exec web -- hostname"}, {args: "exec web -c side -- sh -c 'echo out; echo err >&2; exit 3'"},
	{args: "exec -i web -c side -- cat", stdin: "line one\nline two\n"}, {args: "exec -it web -c side -- cat", stdin: "typed\n"},
	{args: "exec -t web -- echo hi"}, {args: "exec deploy/dep -- echo hi"}, {args: "exec svc/dep -- hostname", unordered: true, maskDigits: true},
	{args: "exec web -c nope -- true", minMinor: 34}, {args: "exec web"}, {args: "exec"}, {args: "exec web date"}, {args: "exec nope -- true"},
	{args: "exec web -- nosuchcommand"},
	// attach
	{args: "attach -i att", stdin: "from stdin\n", minMinor: 34}, {args: "attach -i pod/att -q", stdin: "quiet\n"},
	{args: "attach att -c nope", minMinor: 34}, {args: "attach nope"},
	// cp (the simulated shell has no tar: kubectl's error path)
	{args: "cp web:/etc/hostname {F}/out-{NS}"}, {args: "cp web:/etc/hostname {F}/out-{NS} -c side"},
	{args: "cp {F}/nope web:/tmp/"},
	// top
	{args: "top pod"}, {args: "top pod web --containers"}, {args: "top pod --sort-by=memory"},
	{args: "top pod -l app=dep --no-headers"}, {args: "top pod nope"}, {args: "top pod -l app=none"},
}

// Cases that send stdin run commands that read it to the end: a command
// that exits while the client still holds stdin open races the server's
// close of the WebSocket (kubectl then sometimes reports "close 1006
// (abnormal closure)" — a server-side matter, not what is compared here).

// TestStreamParity compares the streaming verbs of kctl and stock kubectl
// against one kserver with a simulated node.
func TestStreamParity(t *testing.T) {
	if os.Getenv("KCTL_PARITY") == "0" || testing.Short() {
		t.Skip("parity suite disabled (KCTL_PARITY=0 or -short)")
	}
	k := referenceKubectl(t)
	c := e2e.StartWith(t, func(cfg *server.Config) {
		cfg.DisableAgent = false
		cfg.Runtime = "sim"
	})
	dir := t.TempDir()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", c.Kubeconfig)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	tools := map[string]func(stdin string, args []string) result{
		"ns-kubectl": func(stdin string, args []string) result { return runKubectl(k, c, stdin, args) },
		"ns-kctl":    func(stdin string, args []string) result { return runKctl(t, c, stdin, args) },
		"setup":      func(stdin string, args []string) result { return runKubectl(k, c, stdin, args) },
	}
	for _, ns := range []string{"ns-kubectl", "ns-kctl"} {
		prepareStreams(t, k, c, ns)
	}
	got := compareCorpus(t, k, tools, streamCorpus, dir)
	pf := comparePortForward(t, k, c)
	got.same += pf.same
	got.diff += pf.diff
	t.Logf("stream parity against %s (1.%d): %s", kubectlName(k), k.Minor, got)
	for _, r := range got.report {
		t.Log(r)
	}
}

// prepareStreams creates the pods in ns and waits until they run and the
// metrics API reports them.
func prepareStreams(t *testing.T, k *e2e.Kubectl, c *e2e.Cluster, ns string) {
	t.Helper()
	for _, args := range [][]string{
		{"create", "namespace", ns},
		{"apply", "-n", ns, "-f", "-"},
		{"wait", "-n", ns, "--for=condition=Ready", "pod", "--all", "--timeout=90s"},
	} {
		stdin := ""
		if args[0] == "apply" {
			stdin = streamManifest
		}
		if r := runKubectl(k, c, stdin, args); r.code != 0 {
			t.Fatalf("prepare %s: kubectl %s: %s", ns, strings.Join(args, " "), r.err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := runKubectl(k, c, "", []string{"top", "pod", "-n", ns, "--no-headers"})
		if r.code == 0 && strings.Count(r.out, "\n") == 4 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prepare %s: metrics of the 4 pods not available: %s %s", ns, r.out, r.err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var forwardPort = regexp.MustCompile(`(127\.0\.0\.1:|\[::1\]:|connection for )\d+`)

// comparePortForward runs port-forward to a pod, a Service and a
// Deployment with both tools (a random local port each), fetches the
// page through it, stops the tool and compares what it printed.
func comparePortForward(t *testing.T, k *e2e.Kubectl, c *e2e.Cluster) tally {
	var out tally
	for _, target := range []string{"pod/web :8080", "svc/dep :80", "deploy/dep :8080"} {
		got := map[string]string{}
		for _, ns := range []string{"ns-kubectl", "ns-kctl"} {
			args := append([]string{"-n", ns, "port-forward"}, strings.Fields(target)...)
			stdout, stderr, body := portForward(t, k, c, ns == "ns-kctl", args)
			got[ns] = forwardPort.ReplaceAllString(fmt.Sprintf("%s--stderr--\n%s--body--\n%s", stdout, stderr, body), "${1}PORT")
		}
		if got["ns-kubectl"] == got["ns-kctl"] {
			out.same++
			continue
		}
		out.diff++
		t.Errorf("kubectl port-forward %s differs:\n--- kubectl\n%s\n+++ kctl\n%s", target, got["ns-kubectl"], got["ns-kctl"])
	}
	return out
}

// lockedBuffer is a buffer written by one goroutine and read by another.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var forwardingFrom = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)

// portForward starts port-forward (kctl in-process or kubectl as a child),
// waits for its first "Forwarding from" line, GETs / through the port,
// waits for the "Handling connection" line and stops it.
func portForward(t *testing.T, k *e2e.Kubectl, c *e2e.Cluster, inProcess bool, args []string) (string, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan struct{})
	if inProcess {
		t.Setenv("KUBECACHEDIR", filepath.Join(c.DataDir, "kctl-cache"))
		go func() {
			defer close(done)
			kctl.Main(ctx, args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
		}()
	} else {
		cmd := exec.CommandContext(ctx, k.Path, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "KUBECACHEDIR="+filepath.Join(c.DataDir, "kubectl-cache"))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { defer close(done); _ = cmd.Wait() }()
	}
	defer func() { cancel(); <-done }()
	var port string
	waitUntil(t, ctx, func() bool {
		m := forwardingFrom.FindStringSubmatch(stdout.String())
		if m != nil {
			port = m[1]
		}
		return m != nil && strings.Count(stdout.String(), "Forwarding from") == 2
	}, "port-forward to listen: %s %s", &stdout, &stderr)
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatalf("GET through port-forward %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	waitUntil(t, ctx, func() bool { return strings.Contains(stdout.String(), "Handling connection") },
		"port-forward to report the connection: %s %s", &stdout, &stderr)
	return stdout.String(), stderr.String(), string(body)
}

func waitUntil(t *testing.T, ctx context.Context, cond func() bool, format string, out, errOut *lockedBuffer) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf(format, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
