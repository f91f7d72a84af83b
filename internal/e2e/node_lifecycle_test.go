package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNode runs the real-pod scenarios of the node agent on one node
// (StartNode: runc, CNI, conmon, inside a network namespace of its own),
// driven by stock kubectl. Each scenario works in a namespace of its own,
// which is deleted afterwards, and waits until the node holds nothing of
// it; the restart of kserver runs last. Root only.
func TestNode(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	eventuallyOut(t, k, n.Cluster, `(?m)^e2e\s+Ready\s`, "get", "nodes")
	for _, s := range []struct {
		name string
		fn   func(*testing.T, *nodeCase)
	}{
		{"LivenessRestart", nodeLiveness},
		{"Readiness", nodeReadiness},
		{"OOMAndInitFailure", nodeOOMAndInitFailure},
		{"HostPortAndHooks", nodeHostPortAndHooks},
		{"Environment", nodeEnvironment},
		{"Volumes", nodeVolumes},
		{"StaticPod", nodeStaticPod},
		{"RestartKeepsPods", nodeRestartKeepsPods},
	} {
		t.Run(s.name, func(t *testing.T) { s.fn(t, n.newCase(t, k, strings.ToLower(s.name))) })
	}
}

// nodeCase is one scenario: c's kubeconfig defaults to namespace ns.
type nodeCase struct {
	*Node
	k  *Kubectl
	c  *Cluster
	ns string
}

// newCase makes namespace ns and a kubeconfig whose context uses it; the
// namespace is deleted when the scenario ends and the node must then hold
// no pod.
func (n *Node) newCase(t *testing.T, k *Kubectl, ns string) *nodeCase {
	t.Helper()
	kubectlOK(t, k, n.Cluster, "", "create", "namespace", ns)
	path := filepath.Join(n.DataDir, "kubeconfig-"+ns+".yaml")
	b, err := os.ReadFile(n.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{DataDir: n.DataDir, Kubeconfig: path, Port: n.Port}
	kubectlOK(t, k, c, "", "config", "set-context", "--current", "--namespace="+ns)
	t.Cleanup(func() {
		if r := k.Run(n.Cluster, "", "delete", "namespace", ns, "--wait=true", "--timeout=90s"); r.Err != nil {
			t.Errorf("delete namespace %s: %v %s", ns, r.Err, r.Stderr)
		}
		n.WaitTornDown(t)
	})
	return &nodeCase{Node: n, k: k, c: c, ns: ns}
}

func (nc *nodeCase) ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return kubectlOK(t, nc.k, nc.c, stdin, args...)
}

func (nc *nodeCase) eventually(t *testing.T, re string, args ...string) string {
	t.Helper()
	return eventuallyOut(t, nc.k, nc.c, re, args...)
}

const probesPod = `apiVersion: v1
kind: Pod
metadata:
  name: unhealthy
spec:
  containers:
  - name: kubia
    image: luksa/kubia-unhealthy
    imagePullPolicy: IfNotPresent
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet: {path: /, port: http}
      periodSeconds: 1
      failureThreshold: 2
      terminationGracePeriodSeconds: 3
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
    startupProbe:
      exec: {command: ["true"]}
      periodSeconds: 1
`

func nodeLiveness(t *testing.T, nc *nodeCase) {
	nc.ok(t, probesPod, "apply", "-f", "-")
	waitRunning(t, nc.k, nc.c, nc.ns, "unhealthy")
	first := nc.ok(t, "", "get", "pod", "unhealthy", "-o", "jsonpath={.status.containerStatuses[0].containerID}")
	// kubia-unhealthy answers 500 from its sixth request on: the liveness
	// probe fails twice and the container is restarted.
	nc.eventually(t, `^[1-9]`, "get", "pod", "unhealthy", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
	events := nc.ok(t, "", "get", "events", "--field-selector", "involvedObject.name=unhealthy", "-o",
		"jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
	for _, want := range []string{
		"Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 500",
		"Killing: Container kubia failed liveness probe, will be restarted",
	} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %q:\n%s", want, events)
		}
	}
	// The new container is another process, and readiness follows it (the
	// TCP probe passes again).
	p := waitRunning(t, nc.k, nc.c, nc.ns, "unhealthy")
	cs := p.Status.ContainerStatuses[0]
	if cs.ContainerID == first || cs.LastTerminationState.Terminated == nil {
		t.Errorf("after the restart: container %s (was %s), last state %+v", cs.ContainerID, first, cs.LastTerminationState)
	}
}

const readinessPod = `apiVersion: v1
kind: Pod
metadata:
  name: gate
  labels: {app: gate}
spec:
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    readinessProbe:
      exec: {command: ["test", "-f", "/ctl/ready"]}
      periodSeconds: 1
      failureThreshold: 1
    volumeMounts: [{name: ctl, mountPath: /ctl}]
  volumes:
  - {name: ctl, hostPath: {path: HOSTDIR, type: DirectoryOrCreate}}
`

// A readiness probe gates the pod's Ready condition and its Service
// endpoint both ways, without restarting anything.
func nodeReadiness(t *testing.T, nc *nodeCase) {
	dir := filepath.Join(t.TempDir(), "ctl")
	nc.ok(t, strings.Replace(readinessPod, "HOSTDIR", dir, 1), "apply", "-f", "-")
	nc.ok(t, "", "create", "service", "clusterip", "gate", "--tcp=80:8080")
	cond := `jsonpath={.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].started}`
	nc.eventually(t, `^Running False ContainersNotReady false true$`, "get", "pod", "gate", "-o", cond)
	endpoint := []string{"get", "endpointslices", "-l", "kubernetes.io/service-name=gate", "-o",
		"jsonpath={.items[0].endpoints[0].conditions.ready}"}
	nc.eventually(t, `^false$`, endpoint...)
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	nc.eventually(t, `^Running True  true true$`, "get", "pod", "gate", "-o", cond)
	nc.eventually(t, `^true$`, endpoint...)
	if err := os.Remove(filepath.Join(dir, "ready")); err != nil {
		t.Fatal(err)
	}
	nc.eventually(t, `^Running False ContainersNotReady false true$`, "get", "pod", "gate", "-o", cond)
	nc.eventually(t, `^false$`, endpoint...)
	if out := nc.ok(t, "", "get", "pod", "gate", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"); out != "0" {
		t.Errorf("a failing readiness probe restarted the container: restartCount %s", out)
	}
}

const oomPod = `apiVersion: v1
kind: Pod
metadata:
  name: oom
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"]
    resources:
      limits: {memory: 32Mi}
`

const initFailPod = `apiVersion: v1
kind: Pod
metadata:
  name: initfail
spec:
  restartPolicy: Never
  initContainers:
  - {name: fails, image: busybox, imagePullPolicy: IfNotPresent, command: ["sh", "-c", "echo nope > /dev/termination-log; exit 3"]}
  containers:
  - {name: never, image: busybox, imagePullPolicy: IfNotPresent, command: ["true"]}
`

func nodeOOMAndInitFailure(t *testing.T, nc *nodeCase) {
	nc.ok(t, oomPod, "apply", "-f", "-")
	nc.ok(t, initFailPod, "apply", "-f", "-")
	nc.eventually(t, `^Failed OOMKilled 137$`, "get", "pod", "oom", "-o",
		"jsonpath={.status.phase} {.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}")
	nc.eventually(t, `^Failed Error 3 nope`, "get", "pod", "initfail", "-o",
		"jsonpath={.status.phase} {.status.initContainerStatuses[0].state.terminated.reason} {.status.initContainerStatuses[0].state.terminated.exitCode} {.status.initContainerStatuses[0].state.terminated.message}")
	if out := nc.ok(t, "", "get", "pod", "initfail", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}"); out != "PodInitializing" {
		t.Errorf("app container of a failed init: %q", out)
	}
}

const hooksPod = `apiVersion: v1
kind: Pod
metadata:
  name: hooks
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: web
    image: luksa/kubia:v1
    imagePullPolicy: IfNotPresent
    ports: [{containerPort: 8080, hostPort: 18080}]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "echo started > /shared/poststart"]}
      preStop:
        exec: {command: ["sh", "-c", "echo stopping > /shared/prestop"]}
    volumeMounts: [{name: shared, mountPath: /shared}]
  volumes:
  - {name: shared, hostPath: {path: HOSTDIR, type: DirectoryOrCreate}}
`

func nodeHostPortAndHooks(t *testing.T, nc *nodeCase) {
	dir := filepath.Join(t.TempDir(), "hooks")
	nc.ok(t, strings.Replace(hooksPod, "HOSTDIR", dir, 1), "apply", "-f", "-")
	waitRunning(t, nc.k, nc.c, nc.ns, "hooks")
	if b, err := os.ReadFile(filepath.Join(dir, "poststart")); err != nil || string(b) != "started\n" {
		t.Errorf("postStart hook: %q %v", b, err)
	}
	// The hostPort answers on the node's addresses (portmap, inside the
	// node's namespace), loopback included.
	out, err := nc.Exec(t, "curl", "-sS", "--max-time", "10", "http://127.0.0.1:18080/")
	if err != nil || !strings.Contains(out, "You've hit hooks") {
		t.Fatalf("curl hostPort: %v: %s", err, out)
	}
	start := time.Now()
	nc.ok(t, "", "delete", "pod", "hooks", "--wait=true")
	if b, err := os.ReadFile(filepath.Join(dir, "prestop")); err != nil || string(b) != "stopping\n" {
		t.Errorf("preStop hook: %q %v", b, err)
	}
	// kubia stops on SIGTERM at once: nothing waits out the grace period.
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("deletion took %v", d)
	}
	nc.WaitTornDown(t)
	if out, err := nc.Exec(t, "curl", "-sS", "--max-time", "3", "http://127.0.0.1:18080/"); err == nil {
		t.Errorf("hostPort still answers after the pod went: %s", out)
	}
}

const staticPod = `apiVersion: v1
kind: Pod
metadata:
  name: static-web
  namespace: NAMESPACE
  labels: {app: static}
spec:
  containers:
  - name: web
    image: luksa/kubia:v1
    imagePullPolicy: IfNotPresent
`

func nodeStaticPod(t *testing.T, nc *nodeCase) {
	manifests := filepath.Join(nc.DataDir, "agent", "pod-manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(manifests, "web.yaml")
	t.Cleanup(func() { _ = os.Remove(manifest) })
	if err := os.WriteFile(manifest, []byte(strings.Replace(staticPod, "NAMESPACE", nc.ns, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := waitRunning(t, nc.k, nc.c, nc.ns, "static-web-e2e")
	if p.Annotations["kubernetes.io/config.mirror"] == "" || p.Annotations["kubernetes.io/config.source"] != "file" {
		t.Errorf("mirror pod annotations: %v", p.Annotations)
	}
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "Node" || p.OwnerReferences[0].Name != "e2e" {
		t.Errorf("mirror pod owner: %+v", p.OwnerReferences)
	}
	id := p.Status.ContainerStatuses[0].ContainerID
	// Deleting the mirror pod does not stop the static pod; the mirror
	// comes back with the same container.
	if r := nc.k.Run(nc.c, "", "delete", "pod", "static-web-e2e", "--wait=true", "--timeout=60s"); r.Err != nil {
		state := nc.ok(t, "", "get", "pods", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.metadata.deletionTimestamp}{"\n"}{end}`)
		t.Fatalf("kubectl delete of the mirror pod %s: %v %s%s\npods now:\n%s", p.UID, r.Err, r.Stdout, r.Stderr, state)
	}
	nc.eventually(t, "^"+id+"$", "get", "pod", "static-web-e2e", "-o", "jsonpath={.status.containerStatuses[0].containerID}")
	// Removing the manifest stops it and deletes the mirror.
	if err := os.Remove(manifest); err != nil {
		t.Fatal(err)
	}
	nc.eventually(t, "^$", "get", "pods", "-o", "name")
	nc.WaitTornDown(t)
}

const finisherPod = `apiVersion: v1
kind: Pod
metadata:
  name: finisher
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while [ ! -f /ctl/go ]; do sleep 0.2; done; echo bye > /ctl/bye; exit 7"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
  volumes:
  - {name: ctl, hostPath: {path: HOSTDIR, type: DirectoryOrCreate}}
`

// kserver stops and starts again while pods run: they keep running (same
// containers, addresses, restart counts), nothing is created twice, a
// container that exited while kserver was down is reported with its exit
// code, and the adopted pods are torn down normally afterwards.
func nodeRestartKeepsPods(t *testing.T, nc *nodeCase) {
	dir := filepath.Join(t.TempDir(), "ctl")
	nc.ok(t, "", "create", "deployment", "web", "--image=luksa/kubia:v1", "--replicas=2")
	nc.ok(t, strings.Replace(finisherPod, "HOSTDIR", dir, 1), "apply", "-f", "-")
	nc.eventually(t, `^2$`, "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}")
	nc.eventually(t, `^Running$`, "get", "pod", "finisher", "-o", "jsonpath={.status.phase}")
	state := func() string {
		return nc.ok(t, "", "get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}{"\n"}{end}`)
	}
	before := state()
	counts := func() string {
		return fmt.Sprintf("sandboxes %d, containers %d, monitors %d", nc.entries("sandboxes"), nc.entries("containers"), len(nc.monitors(t)))
	}
	want := "sandboxes 3, containers 3, monitors 3"
	if got := counts(); got != want {
		t.Fatalf("before the restart: %s, want %s", got, want)
	}

	if err := nc.Cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	// While kserver is down the finisher's container exits with 7; its
	// monitor keeps the exit code.
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(dir, "bye")); return err == nil })
	if err := nc.Cluster.start(); err != nil {
		t.Fatal(err)
	}
	nc.eventually(t, `(?m)^e2e\s+Ready\s`, "get", "nodes")
	nc.eventually(t, `^Failed Error 7$`, "get", "pod", "finisher", "-o",
		"jsonpath={.status.phase} {.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}")
	nc.eventually(t, `^2$`, "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}")
	want = "sandboxes 3, containers 3, monitors 2" // the finisher's monitor ended with its container
	// Give the adopted pods' first syncs time to write whatever they would.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if after := state(); after != before {
			t.Fatalf("pods changed over the restart:\nbefore:\n%safter:\n%s", before, after)
		}
		if got := counts(); got != want {
			t.Fatalf("after the restart: %s, want %s", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The adopted containers still serve on their addresses.
	for _, line := range strings.Split(strings.TrimSpace(before), "\n") {
		f := strings.Fields(line)
		out, err := nc.Exec(t, "curl", "-sS", "--max-time", "10", "http://"+f[1]+":8080/")
		if err != nil || !strings.Contains(out, "You've hit "+f[0]) {
			t.Errorf("pod %s after the restart: %v: %s", f[0], err, out)
		}
	}
	nc.ok(t, "", "delete", "deployment", "web")
	nc.ok(t, "", "delete", "pod", "finisher")
	nc.eventually(t, "^$", "get", "pods", "-o", "name")
	nc.WaitTornDown(t)
}

// entries counts the runtime's records of a kind ("sandboxes",
// "containers").
func (n *Node) entries(kind string) int {
	e, _ := os.ReadDir(filepath.Join(n.DataDir, "agent", "runtime", kind))
	return len(e)
}
