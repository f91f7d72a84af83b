package daemonset_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/daemonset"
	"kserver.dev/kserver/internal/e2e"
)

const nodesAndDS = `apiVersion: v1
kind: Node
metadata:
  name: edge-1
---
apiVersion: v1
kind: Node
metadata:
  name: edge-2
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: monitor
spec:
  selector:
    matchLabels:
      app: monitor
  template:
    metadata:
      labels:
        app: monitor
    spec:
      nodeSelector:
        role: edge
      containers:
      - name: exporter
        image: node-exporter:1
`

// TestDaemonSetWithKubectl: pods follow `kubectl label node`, and a
// template change rolls out (rollout status, history).
func TestDaemonSetWithKubectl(t *testing.T) {
	cl := e2e.Start(t)
	k := e2e.FindKubectl(t)
	env := controllertest.New(t, cl.RestConfig(t))
	rec, b := client.NewRecorder(env.Set, daemonset.Component)
	defer b.Shutdown()
	c := daemonset.New(daemonset.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})
	env.MarkPodsReady(nil)
	env.Inf.Start(env.Ctx)
	go func() { _ = c.Run(env.Ctx, 2) }()

	run := func(args ...string) string {
		t.Helper()
		r := k.Run(cl, "", args...)
		if r.Err != nil {
			t.Fatalf("kubectl %s: %v %s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	if r := k.Run(cl, nodesAndDS, "apply", "-f", "-"); r.Err != nil {
		t.Fatalf("apply: %v %s", r.Err, r.Stderr)
	}
	count := func(n int) func() bool {
		return func() bool {
			pods, err := env.Set.Pods("default").List(env.Ctx, metav1.ListOptions{LabelSelector: "app=monitor"})
			live := 0
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil {
					live++
				}
			}
			return err == nil && live == n
		}
	}
	run("label", "node", "edge-1", "role=edge")
	env.Eventually("one daemon pod", count(1))
	run("label", "node", "edge-2", "role=edge")
	env.Eventually("two daemon pods", count(2))
	if out := run("rollout", "status", "daemonset/monitor", "--timeout=60s"); !strings.HasSuffix(out, "daemon set \"monitor\" successfully rolled out\n") {
		t.Fatalf("rollout status: %q", out)
	}
	f := strings.Fields(run("get", "ds", "monitor", "--no-headers"))
	// NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE-SELECTOR AGE
	if len(f) < 7 || strings.Join(f[1:7], " ") != "2 2 2 2 2 role=edge" {
		t.Fatalf("kubectl get ds: %v", f)
	}

	run("set", "image", "daemonset/monitor", "exporter=node-exporter:2")
	run("rollout", "status", "daemonset/monitor", "--timeout=60s")
	if h := run("rollout", "history", "daemonset/monitor"); h != "daemonset.apps/monitor \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n" {
		t.Fatalf("history %q", h)
	}
	run("label", "node", "edge-1", "role-")
	env.Eventually("back to one daemon pod", count(1))
}
