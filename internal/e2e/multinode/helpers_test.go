package multinode

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/e2e"
)

// TestMain lets the test binary play a node (e2e.RunNodeProcess).
func TestMain(m *testing.M) {
	e2e.RunNodeProcess()
	os.Exit(m.Run())
}

// env is the shared cluster of the subtests.
type env struct {
	m *e2e.MultiNode
	k *e2e.Kubectl
	// Set by deployWorkloads.
	web, db   []*corev1.Pod
	clusterIP map[string]string
}

// kubectl runs kubectl and fails the test when it fails.
func (e *env) kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := e.k.Run(e.m.Cluster, stdin, args...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// eventually runs kubectl until its output matches re (2 minutes at most).
func (e *env) eventually(t *testing.T, re string, args ...string) string {
	t.Helper()
	want := regexp.MustCompile(re)
	var last e2e.Result
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		last = e.k.Run(e.m.Cluster, "", args...)
		if last.Err == nil && want.MatchString(last.Stdout) {
			return last.Stdout
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("kubectl %s never matched %q; last: %v\n%s%s", strings.Join(args, " "), re, last.Err, last.Stdout, last.Stderr)
	return ""
}

// waitPod polls a pod until cond holds (2 minutes at most).
func (e *env) waitPod(t *testing.T, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	pods := e.m.Client(t).Pods("default")
	var last *corev1.Pod
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := pods.Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			if last = p; cond(p) {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("pod %s not %s within 2m: phase %s, %+v", name, what, last.Status.Phase, last.Status.ContainerStatuses)
	}
	t.Fatalf("pod %s not %s within 2m: not found", name, what)
	return nil
}

// running waits until the pods are Running and Ready and returns them.
func (e *env) running(t *testing.T, names ...string) []*corev1.Pod {
	t.Helper()
	var out []*corev1.Pod
	for _, n := range names {
		out = append(out, e.waitPod(t, n, "ready", func(p *corev1.Pod) bool {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady {
					return p.Status.Phase == corev1.PodRunning && c.Status == corev1.ConditionTrue
				}
			}
			return false
		}))
	}
	return out
}

// probe runs script in a busybox pod on node until it exits and returns
// its exit code and what it wrote (the termination message: no exec or
// logs streaming needed).
func (e *env) probe(t *testing.T, node, name, labels, script string) (int, string) {
	t.Helper()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {%s}}
spec:
  nodeName: %s
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: probe
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", %q]
`, name, labels, node, "exec >/dev/termination-log 2>&1\n"+script)
	e.kubectl(t, manifest, "apply", "-f", "-")
	e.waitPod(t, name, "started", func(p *corev1.Pod) bool { return p.Status.Phase != corev1.PodPending })
	p := e.waitPod(t, name, "finished", func(p *corev1.Pod) bool {
		return (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) &&
			len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	if err := e.m.Client(t).Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete probe %s: %v", name, err)
	}
	term := p.Status.ContainerStatuses[0].State.Terminated
	return int(term.ExitCode), term.Message
}

// until retries f for up to 30 s until it returns nil, and fails the
// test with its last error; retries are logged (a first packet may race
// the programming of a new node or Service).
func until(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		err := f()
		if err == nil {
			if i > 0 {
				t.Logf("%s: needed %d retries", what, i)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %v", what, err)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// httpGet is a shell pipeline fetching / over HTTP with busybox nc.
func httpGet(host string, port int) string {
	return fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 %s %d`, host, port)
}

// curl fetches / from inside a network namespace (a node's or the
// underlay's) with the static busybox's nc, never from the root namespace.
func curl(exec func(string, ...string) (string, error), host string, port int) (string, error) {
	return curlPath(exec, host, port, "/")
}

// curlPath is curl for another path.
func curlPath(exec func(string, ...string) (string, error), host string, port int, path string) (string, error) {
	return exec("sh", "-c", fmt.Sprintf(`printf 'GET %s HTTP/1.0\r\n\r\n' | /bin/busybox nc -w 3 %s %d`, path, host, port))
}
