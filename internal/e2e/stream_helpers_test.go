package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/server"
)

// Helpers of the streaming tests (logs, exec, attach, port-forward, cp,
// top) against `kserver server --runtime sim` with its embedded agent.

// startSimCluster runs kserver server with controllers, scheduler and its
// embedded simulated node "e2e".
func startSimCluster(t *testing.T) *Cluster {
	t.Helper()
	c := StartWith(t, func(cfg *server.Config) {
		cfg.DisableAgent = false
		cfg.Runtime = "sim"
	})
	k := FindKubectl(t)
	waitFor(t, func() bool {
		r := k.Run(c, "", "get", "node", "e2e", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
		return r.Stdout == "True"
	})
	return c
}

// kubectls are the stock kubectl builds to test the streaming protocols
// with: one per transport generation that is installed (1.27 SPDY only,
// 1.29 SPDY first, 1.30 WebSocket exec, 1.31+ WebSocket port-forward) and
// the newest one FindKubectl picks.
func kubectls(t *testing.T) []*Kubectl {
	t.Helper()
	newest := FindKubectl(t)
	out := []*Kubectl{}
	if newest.Path != "" {
		if dir := filepath.Dir(newest.Path); strings.HasPrefix(filepath.Base(newest.Path), "kubectl.1.") {
			for _, minor := range []string{"27", "29", "30", "31"} {
				p := filepath.Join(dir, "kubectl.1."+minor)
				if _, err := os.Stat(p); err == nil && p != newest.Path {
					out = append(out, &Kubectl{Path: p, Minor: versionOf(p)})
				}
			}
		}
	}
	return append(out, newest)
}

// runEnv runs kubectl with extra environment variables and a deadline.
func (k *Kubectl) runEnv(c *Cluster, stdin string, extra map[string]string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.Path, args...)
	vars := map[string]string{"KUBECONFIG": c.Kubeconfig, "KUBECACHEDIR": filepath.Join(c.DataDir, "kubectl-cache"), "HOME": c.DataDir}
	for key, v := range extra {
		vars[key] = v
	}
	cmd.Env = env(vars)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// must runs kubectl and fails the test when it fails.
func (k *Kubectl) must(t *testing.T, c *Cluster, stdin string, args ...string) string {
	t.Helper()
	r := k.Run(c, stdin, args...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// exitCode of a finished kubectl (0 on success, -1 if it did not run).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// waitOutput runs kubectl until its output matches.
func (k *Kubectl) waitOutput(t *testing.T, c *Cluster, want *regexp.Regexp, args ...string) string {
	t.Helper()
	var last Result
	deadline := time.Now().Add(30 * time.Second)
	for {
		last = k.Run(c, "", args...)
		if last.Err == nil && want.MatchString(last.Stdout) {
			return last.Stdout
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl %s: want %s within 30s, last output:\n%s%s", strings.Join(args, " "), want, last.Stdout, last.Stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// applyYAML creates objects from a manifest.
func (k *Kubectl) applyYAML(t *testing.T, c *Cluster, manifest string) {
	t.Helper()
	k.must(t, c, manifest, "apply", "-f", "-")
}

// waitRunning waits until the pods are Running and ready.
func (k *Kubectl) waitRunning(t *testing.T, c *Cluster, pods ...string) {
	t.Helper()
	for _, p := range pods {
		k.waitOutput(t, c, regexp.MustCompile(`^Running true$`), "get", "pod", p, "-o",
			`jsonpath={.status.phase} {.status.containerStatuses[0].ready}`)
	}
}
