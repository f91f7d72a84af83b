package e2e

import (
	"bufio"
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

	"golang.org/x/sys/unix"
)

const execManifest = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
  annotations:
    sim.kserver.dev/http-port: "8080"
    sim.kserver.dev/http-body: "hello from web\n"
spec:
  containers:
  - name: c
    image: busybox
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: att
spec:
  containers:
  - {name: c, image: busybox, stdin: true}
---
apiVersion: v1
kind: Pod
metadata:
  name: crash
  annotations:
    sim.kserver.dev/fail-start: "no such binary"
spec:
  containers:
  - {name: c, image: busybox}
`

// TestKubectlExecAndAttach: exec without a terminal (exit codes), with
// stdin, with a terminal on a pty (resize, exit code), attach, and the
// errors of a container that does not run — for every kubectl generation
// (1.27 SPDY, 1.30+ WebSocket).
func TestKubectlExecAndAttach(t *testing.T) {
	c := startSimCluster(t)
	ks := kubectls(t)
	ks[len(ks)-1].applyYAML(t, c, execManifest)
	ks[len(ks)-1].waitRunning(t, c, "web", "att")
	ks[len(ks)-1].waitOutput(t, c, regexp.MustCompile(`CrashLoopBackOff|RunContainerError|StartError`), "get", "pod", "crash")
	for _, k := range ks {
		t.Run(fmt.Sprintf("1.%d", k.Minor), func(t *testing.T) {
			r := k.Run(c, "", "exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
			if exitCode(r.Err) != 7 || r.Stdout != "out\n" || r.Stderr != "err\ncommand terminated with exit code 7\n" {
				t.Errorf("exec exit 7: %v %q %q", r.Err, r.Stdout, r.Stderr)
			}
			if out := k.must(t, c, "", "exec", "web", "-c", "c", "--", "hostname"); out != "web\n" {
				t.Errorf("exec hostname = %q", out)
			}
			if out := k.must(t, c, "line one\nline two\n", "exec", "-i", "web", "--", "cat"); out != "line one\nline two\n" {
				t.Errorf("exec -i cat = %q", out)
			}
			if out := k.must(t, c, "from stdin\n", "attach", "-i", "att"); !strings.Contains(out, "from stdin\n") {
				t.Errorf("attach -i = %q", out)
			}
			execTTY(t, k, c, "web")

			want := `error: unable to upgrade connection: container not found ("c")` + "\n"
			if k.Minor >= 30 || k.Minor == 0 {
				want = `error: Internal error occurred: unable to upgrade connection: container not found ("c")` + "\n"
			}
			if r := k.Run(c, "", "exec", "crash", "--", "true"); exitCode(r.Err) != 1 || r.Stderr != want {
				t.Errorf("exec into a container that does not run: %v %q, want %q", r.Err, r.Stderr, want)
			}
			if r := k.Run(c, "", "exec", "web", "-c", "nope", "--", "true"); !strings.Contains(r.Stderr, "container nope not found in pod web") &&
				!strings.Contains(r.Stderr, "container nope is not valid for pod web") {
				t.Errorf("exec into an unknown container: %q", r.Stderr)
			}
		})
	}
}

// execTTY runs kubectl exec -it with a pty as its terminal: the shell
// sees the terminal's size and, after the terminal is resized, the new
// size; its exit code becomes kubectl's.
func execTTY(t *testing.T, k *Kubectl, c *Cluster, pod string) {
	t.Helper()
	ptm, pts := openPTY(t, 37, 101)
	defer ptm.Close()
	cmd := exec.Command(k.Path, "exec", "-it", pod, "--", "sh")
	cmd.Env = env(map[string]string{"KUBECONFIG": c.Kubeconfig, "KUBECACHEDIR": filepath.Join(c.DataDir, "kubectl-cache"),
		"HOME": c.DataDir, "TERM": "xterm"})
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	term := &terminal{}
	go term.read(ptm) // ends with EIO once kubectl exits
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	// Ask until the shell reports the size: kubectl sends it once the
	// session is up, which may be after the shell read the first command.
	if !term.ask(ptm, "stty size\n", "37 101") {
		t.Fatalf("exec -it: the shell never saw the terminal's size; terminal showed %q", term.String())
	}
	if err := unix.IoctlSetWinsize(int(ptm.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 132}); err != nil {
		t.Fatal(err)
	}
	if !term.ask(ptm, "stty size\n", "50 132") {
		t.Fatalf("exec -it: the shell never saw the resize; terminal showed %q", term.String())
	}
	_, _ = io.WriteString(ptm, "exit 5\n")
	select {
	case err := <-done:
		exited = true
		if exitCode(err) != 5 {
			t.Errorf("exec -it: %v, want exit code 5; terminal showed %q", err, term.String())
		}
	case <-time.After(60 * time.Second):
		t.Errorf("exec -it did not end; terminal showed %q", term.String())
	}
}

// terminal collects what a pty master reads.
type terminal struct {
	mu  sync.Mutex
	out strings.Builder
}

func (t *terminal) read(r io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		t.mu.Lock()
		t.out.Write(buf[:n])
		t.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (t *terminal) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.out.String()
}

// ask types input every second until the terminal shows want (30 s at
// most).
func (t *terminal) ask(w io.Writer, input, want string) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, _ = io.WriteString(w, input)
		for wait := time.Now().Add(time.Second); time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
			if strings.Contains(t.String(), want) {
				return true
			}
		}
	}
	return false
}

// openPTY opens a pseudo-terminal of rows×cols.
func openPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

const forwardManifest = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fwd
spec:
  replicas: 1
  selector:
    matchLabels: {app: fwd}
  template:
    metadata:
      labels: {app: fwd}
      annotations:
        sim.kserver.dev/http-port: "9000"
        sim.kserver.dev/http-body: "hello from the deployment\n"
    spec:
      containers:
      - {name: c, image: busybox, ports: [{containerPort: 9000}]}
`

// TestKubectlPortForward: kubectl port-forward to a pod, a Service (its
// port translated to the container port) and a Deployment, with a real
// HTTP request through each, over SPDY (≤ 1.30) and SPDY tunnelled in
// WebSocket (1.31+, and 1.30 when asked).
func TestKubectlPortForward(t *testing.T) {
	c := startSimCluster(t)
	ks := kubectls(t)
	k0 := ks[len(ks)-1]
	k0.applyYAML(t, c, execManifest+"---\n"+forwardManifest)
	k0.waitRunning(t, c, "web")
	k0.waitOutput(t, c, regexp.MustCompile(`^1$`), "get", "deploy", "fwd", "-o", "jsonpath={.status.readyReplicas}")
	for _, k := range ks {
		envs := []map[string]string{nil}
		if k.Minor == 30 {
			envs = append(envs, map[string]string{"KUBECTL_PORT_FORWARD_WEBSOCKETS": "true"})
		}
		for _, extra := range envs {
			t.Run(fmt.Sprintf("1.%d%v", k.Minor, extra), func(t *testing.T) {
				for target, body := range map[string]string{"pod/web :8080": "hello from web\n",
					"svc/web :80": "hello from web\n", "deploy/fwd :9000": "hello from the deployment\n"} {
					if got := forwardGET(t, k, c, extra, strings.Fields(target)...); got != body {
						t.Errorf("GET through port-forward %s = %q, want %q", target, got, body)
					}
				}
			})
		}
	}
	if r := k0.Run(c, "", "port-forward", "pod/nothere", ":80"); !strings.Contains(r.Stderr, `pods "nothere" not found`) {
		t.Errorf("port-forward to a missing pod: %q", r.Stderr)
	}
}

// forwardGET starts kubectl port-forward, reads the local port it chose,
// sends two HTTP requests through it and returns the second body.
func forwardGET(t *testing.T, k *Kubectl, c *Cluster, extra map[string]string, args ...string) string {
	t.Helper()
	vars := map[string]string{"KUBECONFIG": c.Kubeconfig, "KUBECACHEDIR": filepath.Join(c.DataDir, "kubectl-cache"), "HOME": c.DataDir}
	for key, v := range extra {
		vars[key] = v
	}
	cmd := exec.Command(k.Path, append([]string{"port-forward", "--address", "127.0.0.1"}, args...)...)
	cmd.Env = env(vars)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> \d+`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			}
		}
	}()
	var p string
	select {
	case p = <-port:
	case <-time.After(60 * time.Second):
		t.Fatalf("port-forward %v did not start: %s", args, stderr.String())
	}
	var body string
	for i := 0; i < 2; i++ {
		resp, err := http.Get("http://127.0.0.1:" + p + "/")
		if err != nil {
			t.Fatalf("GET through port-forward %v: %v (%s)", args, err, stderr.String())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	return body
}

// TestKubectlExecStdinAfterExit: a command that exits while kubectl is
// still sending stdin ends with its exit code, not with a connection
// reset ("close 1006 (abnormal closure)") that lost the status.
func TestKubectlExecStdinAfterExit(t *testing.T) {
	c := startSimCluster(t)
	ks := kubectls(t)
	k := ks[len(ks)-1]
	k.applyYAML(t, c, execManifest)
	k.waitRunning(t, c, "web")
	stdin := strings.Repeat("a line kubectl keeps sending after the command exited\n", 20000)
	for i := range 5 {
		r := k.Run(c, stdin, "exec", "-i", "web", "--", "sh", "-c", "exit 3")
		if exitCode(r.Err) != 3 || !strings.Contains(r.Stderr, "command terminated with exit code 3") {
			t.Fatalf("run %d: exit %v, stderr %q; want exit code 3", i, r.Err, r.Stderr)
		}
	}
}
