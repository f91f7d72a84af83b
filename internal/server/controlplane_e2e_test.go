package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/server"
)

// cpCluster is a full `kserver server --runtime sim` (controllers,
// scheduler, the embedded simulated node "main") driven by stock kubectl.
type cpCluster struct {
	t *testing.T
	c *e2e.Cluster
	k *e2e.Kubectl
}

func startControlPlane(t *testing.T) *cpCluster {
	t.Helper()
	k := e2e.FindKubectl(t)
	c := e2e.StartWith(t, func(cfg *server.Config) {
		cfg.NodeName, cfg.Runtime, cfg.DisableAgent = "main", "sim", false
	})
	cl := &cpCluster{t: t, c: c, k: k}
	cl.eventually(30*time.Second, `(?m)^main\s+Ready\s`, "get", "nodes")
	return cl
}

// sim joins n simulated nodes <prefix>-0…; stop makes them fall silent.
func (cl *cpCluster) sim(prefix string, n int) (stop func()) {
	cl.t.Helper()
	cfg := server.DefaultSimConfig()
	cfg.Server = fmt.Sprintf("https://127.0.0.1:%d", cl.c.Port)
	cfg.TokenFile = filepath.Join(cl.c.DataDir, "server", "node-token")
	cfg.DataDir, cfg.Nodes, cfg.NamePrefix = cl.c.DataDir, n, prefix
	cfg.Capacity = []string{"cpu=4", "memory=8Gi"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.RunSim(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	cl.t.Cleanup(stop)
	cl.eventually(30*time.Second, fmt.Sprintf(`(?s)(%s-\d+\s+Ready\s.*){%d}`, prefix, n), "get", "nodes")
	return stop
}

func (cl *cpCluster) run(args ...string) e2e.Result { return cl.k.Run(cl.c, "", args...) }

// must runs kubectl and fails the test when it fails.
func (cl *cpCluster) must(args ...string) string {
	cl.t.Helper()
	r := cl.run(args...)
	if r.Err != nil {
		cl.t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// eventually runs kubectl until its output matches pattern.
func (cl *cpCluster) eventually(within time.Duration, pattern string, args ...string) string {
	cl.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(within)
	var last e2e.Result
	for time.Now().Before(deadline) {
		last = cl.run(args...)
		if last.Err == nil && re.MatchString(last.Stdout) {
			return last.Stdout
		}
		time.Sleep(200 * time.Millisecond)
	}
	cl.t.Fatalf("kubectl %s: want %s, last output:\n%s%s", strings.Join(args, " "), pattern, last.Stdout, last.Stderr)
	return ""
}

func TestWorkloadsServicesAndGarbageCollectionWithKubectl(t *testing.T) {
	cl := startControlPlane(t)
	cl.sim("w", 2)

	// kubectl create deployment: pods scheduled, simulated and Running.
	cl.must("create", "deployment", "hello", "--image=nginx:1.27", "--replicas=3")
	out := cl.eventually(60*time.Second, `(?m)^deployment\.apps/hello\s+3/3\s+3\s+3\s`, "get", "all")
	if n := len(regexp.MustCompile(`(?m)^pod/hello-\S+\s+1/1\s+Running\s`).FindAllString(out, -1)); n != 3 {
		t.Fatalf("get all: %d running pods\n%s", n, out)
	}
	if !regexp.MustCompile(`(?m)^replicaset\.apps/hello-\S+\s+3\s+3\s+3\s`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^service/kubernetes\s+ClusterIP\s+10\.43\.0\.1\s`).MatchString(out) {
		t.Fatalf("get all:\n%s", out)
	}

	// Endpoints and EndpointSlices follow the pods.
	cl.must("expose", "deployment", "hello", "--port=80", "--target-port=8080")
	cl.eventually(30*time.Second, `^(\S+:8080,){3}$`, "get", "endpoints", "hello", "-o", "jsonpath={range .subsets[*].addresses[*]}{.ip}:8080,{end}")
	cl.eventually(30*time.Second, `^endpointslice-controller\.k8s\.io 8080 (true(main|w-0|w-1),){3}\n$`,
		"get", "endpointslices", "-l", "kubernetes.io/service-name=hello", "-o",
		`jsonpath={range .items[*]}{.metadata.labels.endpointslice\.kubernetes\.io/managed-by} {.ports[0].port} {range .endpoints[*]}{.conditions.ready}{.nodeName},{end}{"\n"}{end}`)
	cl.must("scale", "deployment", "hello", "--replicas=1")
	cl.eventually(30*time.Second, `^\S+:8080,$`, "get", "endpoints", "hello", "-o", "jsonpath={range .subsets[*].addresses[*]}{.ip}:8080,{end}")

	// Orphan: the ReplicaSet and its pod stay, without an owner.
	cl.must("delete", "deployment", "hello", "--cascade=orphan")
	cl.eventually(30*time.Second, `^hello-\S+ owners:$`, "get", "rs", "-l", "app=hello", "-o", "jsonpath={.items[0].metadata.name} owners:{.items[0].metadata.ownerReferences}")
	rs := strings.Fields(cl.must("get", "rs", "-l", "app=hello", "-o", "jsonpath={.items[0].metadata.name}"))[0]
	if pods := cl.must("get", "pods", "-l", "app=hello", "-o", "name"); strings.Count(pods, "pod/") != 1 {
		t.Fatalf("orphaned pods: %q", pods)
	}
	// Foreground: kubectl waits while the ReplicaSet's pods go first.
	cl.must("delete", "rs", rs, "--cascade=foreground")
	cl.eventually(30*time.Second, `^$`, "get", "pods,rs", "-l", "app=hello", "-o", "name")

	// Background (the default): the Deployment goes, then the collector
	// removes its ReplicaSet and pods.
	cl.must("create", "deployment", "bye", "--image=nginx:1.27", "--replicas=2")
	cl.eventually(60*time.Second, `(?m)^bye\s+2/2\s`, "get", "deployment", "bye")
	cl.must("delete", "deployment", "bye")
	cl.eventually(30*time.Second, `^$`, "get", "pods,rs", "-l", "app=bye", "-o", "name")

	// A namespace's deletion cascades to everything in it.
	cl.must("create", "namespace", "team")
	cl.eventually(30*time.Second, `^default$`, "get", "serviceaccount", "default", "-n", "team", "-o", "jsonpath={.metadata.name}")
	cl.eventually(30*time.Second, `BEGIN CERTIFICATE`, "get", "configmap", "kube-root-ca.crt", "-n", "team", "-o", `jsonpath={.data.ca\.crt}`)
	cl.must("create", "deployment", "app", "--image=nginx:1.27", "--replicas=2", "-n", "team")
	cl.must("create", "configmap", "settings", "--from-literal=a=b", "-n", "team")
	cl.eventually(60*time.Second, `(?m)^app\s+2/2\s`, "get", "deployment", "app", "-n", "team")
	cl.must("delete", "namespace", "team", "--timeout=60s")
	if r := cl.run("get", "namespace", "team"); r.Err == nil || !strings.Contains(r.Stderr, `namespaces "team" not found`) {
		t.Fatalf("namespace after delete: %v %s%s", r.Err, r.Stdout, r.Stderr)
	}

	// A ResourceQuota refuses what would exceed it.
	cl.must("create", "namespace", "small")
	cl.must("create", "quota", "q", "--hard=pods=1", "-n", "small")
	cl.eventually(30*time.Second, `^pods:1$`, "get", "quota", "q", "-n", "small", "-o", "jsonpath={range .status.hard}pods:{.pods}{end}")
	cl.must("run", "one", "--image=nginx:1.27", "-n", "small")
	r := cl.run("run", "two", "--image=nginx:1.27", "-n", "small")
	if r.Err == nil || !strings.Contains(r.Stderr, `pods "two" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1`) {
		t.Fatalf("second pod under pods=1: %v %s%s", r.Err, r.Stdout, r.Stderr)
	}
	cl.eventually(30*time.Second, `(?m)^pods\s+1\s+1\s*$`, "describe", "quota", "q", "-n", "small")
}

func TestTaintsCordonAndDrainWithKubectl(t *testing.T) {
	cl := startControlPlane(t)
	cl.sim("w", 2)

	// Cordon: the unschedulable taint; uncordon: gone.
	cl.must("cordon", "w-0")
	cl.eventually(30*time.Second, `^node\.kubernetes\.io/unschedulable:NoSchedule$`, "get", "node", "w-0", "-o", `jsonpath={range .spec.taints[*]}{.key}:{.effect}{end}`)
	cl.must("uncordon", "w-0")
	cl.eventually(30*time.Second, `^$`, "get", "node", "w-0", "-o", `jsonpath={range .spec.taints[*]}{.key}:{.effect}{end}`)

	// A NoExecute taint evicts the pods that do not tolerate it; their
	// Deployment replaces them elsewhere.
	cl.must("create", "deployment", "web", "--image=nginx:1.27", "--replicas=6")
	cl.eventually(60*time.Second, `(?m)^web\s+6/6\s`, "get", "deployment", "web")
	cl.must("taint", "node", "w-1", "maintenance=now:NoExecute")
	cl.eventually(60*time.Second, `^(main|w-0)( (main|w-0)){5}$`, "get", "pods", "-l", "app=web",
		"--field-selector=status.phase=Running", "-o", `jsonpath={.items[*].spec.nodeName}`)
	cl.eventually(30*time.Second, `TaintManagerEviction\s+pod/web-\S+\s+Marking for deletion Pod default/web-`, "get", "events")

	// A PodDisruptionBudget blocks a drain that would break it.
	cl.must("scale", "deployment", "web", "--replicas=2")
	cl.must("create", "deployment", "guarded", "--image=nginx:1.27", "--replicas=2")
	cl.must("patch", "deployment", "guarded", "-p", `{"spec":{"template":{"spec":{"nodeSelector":{"kubernetes.io/hostname":"w-0"}}}}}`)
	cl.eventually(60*time.Second, `^w-0 w-0$`, "get", "pods", "-l", "app=guarded", "--field-selector=status.phase=Running",
		"-o", `jsonpath={.items[*].spec.nodeName}`)
	cl.must("create", "pdb", "guarded", "--selector=app=guarded", "--min-available=2")
	cl.eventually(30*time.Second, `^0 2 2$`, "get", "pdb", "guarded", "-o", "jsonpath={.status.disruptionsAllowed} {.status.currentHealthy} {.status.desiredHealthy}")
	r := cl.run("drain", "w-0", "--ignore-daemonsets", "--timeout=8s")
	if r.Err == nil || !strings.Contains(r.Stderr, "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Fatalf("drain against the budget: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	cl.eventually(30*time.Second, `SchedulingDisabled`, "get", "node", "w-0")
	// With room in the budget the drain goes through.
	cl.must("patch", "pdb", "guarded", "--type=merge", "-p", `{"spec":{"minAvailable":0}}`)
	cl.eventually(30*time.Second, `^2$`, "get", "pdb", "guarded", "-o", "jsonpath={.status.disruptionsAllowed}")
	if r := cl.run("drain", "w-0", "--ignore-daemonsets", "--timeout=60s"); r.Err != nil || !strings.Contains(r.Stdout+r.Stderr, "node/w-0 drained") {
		t.Fatalf("drain: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
}

func TestSilentNodeIsTaintedAndItsPodsReplacedWithKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 50 s node monitor grace period")
	}
	cl := startControlPlane(t)
	stop := cl.sim("lost", 1)
	// Pods tolerate an unreachable node for 2 s instead of the default 300 s.
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: "nginx:1.27"}]
`
	if r := cl.k.Run(cl.c, manifest, "apply", "-f", "-"); r.Err != nil {
		t.Fatalf("apply: %v %s", r.Err, r.Stderr)
	}
	cl.eventually(60*time.Second, `^(lost-0|main)( (lost-0|main)){3}$`, "get", "pods", "-l", "app=web",
		"--field-selector=status.phase=Running", "-o", `jsonpath={.items[*].spec.nodeName}`)
	if pods := cl.must("get", "pods", "-l", "app=web", "-o", `jsonpath={.items[*].spec.nodeName}`); !strings.Contains(pods, "lost-0") {
		t.Fatalf("no pod on lost-0 to begin with: %s", pods)
	}

	stop() // lost-0's agent goes silent
	cl.eventually(90*time.Second, `(?m)^lost-0\s+NotReady\s`, "get", "nodes")
	cond := cl.must("get", "node", "lost-0", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}`)
	if cond != "Unknown NodeStatusUnknown" {
		t.Fatalf("Ready condition of the silent node: %q", cond)
	}
	cl.eventually(30*time.Second, `node\.kubernetes\.io/unreachable:NoExecute`, "get", "node", "lost-0", "-o", `jsonpath={range .spec.taints[*]}{.key}:{.effect} {end}`)
	cl.eventually(30*time.Second, `NodeNotReady\s+node/lost-0\s+Node lost-0 status is now: NodeNotReady`, "get", "events")
	// The pods there are evicted and replaced on the node that is left
	// (those evicted stay Terminating: no agent is there to finish them).
	deadline := time.Now().Add(60 * time.Second)
	var live string
	for time.Now().Before(deadline) {
		live = cl.must("get", "pods", "-l", "app=web", "--no-headers", "-o", "custom-columns=NODE:.spec.nodeName,DELETING:.metadata.deletionTimestamp,PHASE:.status.phase")
		onMain, elsewhere := 0, 0
		for _, line := range strings.Split(strings.TrimSpace(live), "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[1] == "<none>" {
				if f[0] == "main" && f[2] == "Running" {
					onMain++
				} else {
					elsewhere++
				}
			}
		}
		if onMain == 4 && elsewhere == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("pods not replaced on main:\n%s", live)
}
