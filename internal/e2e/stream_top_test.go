package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"kserver.dev/kserver/internal/server"
)

const topManifest = `apiVersion: v1
kind: Pod
metadata:
  name: aaa
  labels: {tier: small}
  annotations:
    sim.kserver.dev/cpu: "5m"
    sim.kserver.dev/memory: "300Mi"
spec:
  containers:
  - {name: c, image: busybox}
---
apiVersion: v1
kind: Pod
metadata:
  name: zzz
  annotations:
    sim.kserver.dev/cpu.main: "400m"
    sim.kserver.dev/memory.main: "64Mi"
    sim.kserver.dev/cpu.side: "100m"
    sim.kserver.dev/memory.side: "16Mi"
spec:
  containers:
  - {name: main, image: busybox}
  - {name: side, image: busybox}
`

// TestKubectlTop: metrics.k8s.io in discovery and kubectl top node|pod
// (-A, --containers, --sort-by, -l) with the simulated usage.
func TestKubectlTop(t *testing.T) {
	c := startSimCluster(t)
	ks := kubectls(t)
	k0 := ks[len(ks)-1]
	k0.applyYAML(t, c, topManifest)
	k0.waitRunning(t, c, "aaa", "zzz")
	for _, k := range ks {
		t.Run(fmt.Sprintf("1.%d", k.Minor), func(t *testing.T) {
			top := k.must(t, c, "", "top", "pod")
			if !regexp.MustCompile(`^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\s*\n(aaa\s+5m\s+300Mi\s*\nzzz\s+500m\s+80Mi\s*\n)$`).MatchString(top) {
				t.Errorf("top pod:\n%s", top)
			}
			if out := k.must(t, c, "", "top", "pod", "--sort-by=cpu", "--no-headers"); !regexp.MustCompile(`^zzz\s.*\naaa\s`).MatchString(out) {
				t.Errorf("top pod --sort-by=cpu:\n%s", out)
			}
			if out := k.must(t, c, "", "top", "pod", "--sort-by=memory", "--no-headers"); !regexp.MustCompile(`^aaa\s.*\nzzz\s`).MatchString(out) {
				t.Errorf("top pod --sort-by=memory:\n%s", out)
			}
			want := `(?m)^default\s+zzz\s+main\s+400m\s+64Mi\s*\ndefault\s+zzz\s+side\s+100m\s+16Mi\s*$`
			if out := k.must(t, c, "", "top", "pod", "-A", "--containers"); !regexp.MustCompile(want).MatchString(out) ||
				!strings.HasPrefix(out, "NAMESPACE") {
				t.Errorf("top pod -A --containers:\n%s", out)
			}
			if out := k.must(t, c, "", "top", "pod", "-l", "tier=small", "--no-headers"); !regexp.MustCompile(`^aaa\s+5m\s+300Mi\s*\n$`).MatchString(out) {
				t.Errorf("top pod -l:\n%s", out)
			}
			// 505m of the simulated node's 8 CPUs, 380Mi of its 32Gi.
			node := k.must(t, c, "", "top", "node")
			if !regexp.MustCompile(`^NAME\s+CPU\(cores\)\s+CPU(\(%\))?%?\s+MEMORY\(bytes\)\s+MEMORY(\(%\))?%?\s*\ne2e\s+505m\s+6%\s+380Mi\s+1%\s*\n$`).MatchString(node) {
				t.Errorf("top node:\n%s", node)
			}
			if r := k.Run(c, "", "top", "pod", "nothere"); !strings.Contains(r.Stderr, `pods "default/nothere" not found`) {
				t.Errorf("top pod of a missing pod: %q", r.Stderr)
			}
		})
	}
	raw := k0.must(t, c, "", "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/aaa")
	if !regexp.MustCompile(`^\{"kind":"PodMetrics","apiVersion":"metrics.k8s.io/v1beta1","metadata":\{"name":"aaa","namespace":"default",.*"window":"[0-9.]+m?s","containers":\[\{"name":"c","usage":\{"cpu":"5m","memory":"300Mi"\}\}\]\}`).MatchString(raw) {
		t.Errorf("PodMetrics:\n%s", raw)
	}
	// nodes/proxy reaches the embedded agent's API.
	if out := k0.must(t, c, "", "get", "--raw", "/api/v1/nodes/e2e/proxy/stats/summary"); !strings.Contains(out, `"nodeName":"e2e"`) ||
		!strings.Contains(out, `"name":"zzz"`) {
		t.Errorf("nodes/proxy stats/summary:\n%s", out)
	}
	if out := k0.must(t, c, "", "get", "--raw", "/api/v1/nodes/e2e/proxy/healthz"); out != "ok" {
		t.Errorf("nodes/proxy healthz = %q", out)
	}
	if out := k0.must(t, c, "", "api-resources", "--api-group=metrics.k8s.io"); !regexp.MustCompile(`(?m)^nodes\s+metrics.k8s.io/v1beta1\s+false\s+NodeMetrics\n`).MatchString(out) {
		t.Errorf("api-resources:\n%s", out)
	}
}

// TestKubectlTopWithoutMetrics: a node nobody reports for gives upstream's
// "metrics not available yet"; --disable metrics removes the API.
func TestKubectlTopWithoutMetrics(t *testing.T) {
	c := Start(t)
	k := FindKubectl(t)
	k.must(t, c, `{"apiVersion":"v1","kind":"Node","metadata":{"name":"silent"},"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":1}}}}`,
		"create", "-f", "-")
	if r := k.Run(c, "", "top", "node"); exitCode(r.Err) != 1 || r.Stderr != "error: metrics not available yet\n" {
		t.Errorf("top node without metrics: %v %q", r.Err, r.Stderr)
	}
	// A node whose agent cannot be reached: the dial error, as upstream
	// reports it for logs (a plain 500) and exec (on the error channel).
	k.must(t, c, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"lost"},"spec":{"nodeName":"silent","containers":[{"name":"c","image":"busybox"}]}}`,
		"create", "-f", "-")
	refused := `dial tcp 127\.0\.0\.1:1: connect: connection refused`
	if r := k.Run(c, "", "logs", "lost"); exitCode(r.Err) != 1 ||
		!regexp.MustCompile(`^Error from server: Get "https://127\.0\.0\.1:1/containerLogs/default/lost/c": `+refused+"\n$").MatchString(r.Stderr) {
		t.Errorf("logs of a pod on an unreachable node: %v %q", r.Err, r.Stderr)
	}
	if r := k.Run(c, "", "exec", "lost", "--", "true"); exitCode(r.Err) != 1 ||
		!regexp.MustCompile(`^error: Internal error occurred: error dialing backend: `+refused+"\n$").MatchString(r.Stderr) {
		t.Errorf("exec into a pod on an unreachable node: %v %q", r.Err, r.Stderr)
	}
	off := StartWith(t, func(cfg *server.Config) { cfg.Disable = append(cfg.Disable, "controllers", "scheduler", "metrics") })
	if r := k.Run(off, "", "top", "node"); exitCode(r.Err) != 1 || r.Stderr != "error: Metrics API not available\n" {
		t.Errorf("top node with metrics disabled: %v %q", r.Err, r.Stderr)
	}
}
