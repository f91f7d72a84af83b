package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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

func TestNodeProbes(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	c := n.Cluster
	kubectlOK(t, k, c, probesPod, "apply", "-f", "-")
	waitRunning(t, k, c, "default", "unhealthy")
	// kubia-unhealthy answers 500 from its sixth request on: the liveness
	// probe fails twice and the container is restarted.
	eventuallyOut(t, k, c, `^[1-9]`, "get", "pod", "unhealthy", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
	events := kubectlOK(t, k, c, "", "get", "events", "--field-selector", "involvedObject.name=unhealthy", "-o",
		"jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
	for _, want := range []string{
		"Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 500",
		"Killing: Container kubia failed liveness probe, will be restarted",
	} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %q:\n%s", want, events)
		}
	}
	// Readiness follows the new container (the TCP probe passes again).
	waitRunning(t, k, c, "default", "unhealthy")
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

func TestNodeOOMAndInitFailure(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	c := n.Cluster
	kubectlOK(t, k, c, oomPod, "apply", "-f", "-")
	kubectlOK(t, k, c, initFailPod, "apply", "-f", "-")
	eventuallyOut(t, k, c, `^Failed OOMKilled 137$`, "get", "pod", "oom", "-o",
		"jsonpath={.status.phase} {.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}")
	eventuallyOut(t, k, c, `^Failed Error 3 nope`, "get", "pod", "initfail", "-o",
		"jsonpath={.status.phase} {.status.initContainerStatuses[0].state.terminated.reason} {.status.initContainerStatuses[0].state.terminated.exitCode} {.status.initContainerStatuses[0].state.terminated.message}")
	if out := kubectlOK(t, k, c, "", "get", "pod", "initfail", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}"); out != "PodInitializing" {
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

func TestNodeHostPortAndHooks(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	c := n.Cluster
	dir := filepath.Join(t.TempDir(), "hooks")
	kubectlOK(t, k, c, strings.Replace(hooksPod, "HOSTDIR", dir, 1), "apply", "-f", "-")
	waitRunning(t, k, c, "default", "hooks")
	if b, err := os.ReadFile(filepath.Join(dir, "poststart")); err != nil || string(b) != "started\n" {
		t.Errorf("postStart hook: %q %v", b, err)
	}
	// The hostPort answers on the node's addresses (portmap, inside the
	// node's namespace), loopback included.
	out, err := n.Exec(t, "curl", "-sS", "--max-time", "10", "http://127.0.0.1:18080/")
	if err != nil || !strings.Contains(out, "You've hit hooks") {
		t.Fatalf("curl hostPort: %v: %s", err, out)
	}
	start := time.Now()
	kubectlOK(t, k, c, "", "delete", "pod", "hooks", "--wait=true")
	if b, err := os.ReadFile(filepath.Join(dir, "prestop")); err != nil || string(b) != "stopping\n" {
		t.Errorf("preStop hook: %q %v", b, err)
	}
	// kubia stops on SIGTERM at once: nothing waits out the grace period.
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("deletion took %v", d)
	}
	n.WaitTornDown(t)
	if out, err := n.Exec(t, "curl", "-sS", "--max-time", "3", "http://127.0.0.1:18080/"); err == nil {
		t.Errorf("hostPort still answers after the pod went: %s", out)
	}
}

const staticPod = `apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels: {app: static}
spec:
  containers:
  - name: web
    image: luksa/kubia:v1
    imagePullPolicy: IfNotPresent
`

func TestNodeStaticPod(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	c := n.Cluster
	manifests := filepath.Join(n.DataDir, "agent", "pod-manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(manifests, "web.yaml"), []byte(staticPod), 0o644); err != nil {
		t.Fatal(err)
	}
	p := waitRunning(t, k, c, "default", "static-web-e2e")
	if p.Annotations["kubernetes.io/config.mirror"] == "" || p.Annotations["kubernetes.io/config.source"] != "file" {
		t.Errorf("mirror pod annotations: %v", p.Annotations)
	}
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "Node" || p.OwnerReferences[0].Name != "e2e" {
		t.Errorf("mirror pod owner: %+v", p.OwnerReferences)
	}
	id := p.Status.ContainerStatuses[0].ContainerID
	// Deleting the mirror pod does not stop the static pod; the mirror
	// comes back with the same container.
	kubectlOK(t, k, c, "", "delete", "pod", "static-web-e2e", "--wait=true")
	eventuallyOut(t, k, c, "^"+id+"$", "get", "pod", "static-web-e2e", "-o", "jsonpath={.status.containerStatuses[0].containerID}")
	// Removing the manifest stops it and deletes the mirror.
	if err := os.Remove(filepath.Join(manifests, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	eventuallyOut(t, k, c, "^$", "get", "pods", "-o", "name")
	n.WaitTornDown(t)
}

func TestNodeRestartKeepsPods(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	c := n.Cluster
	kubectlOK(t, k, c, "", "create", "deployment", "web", "--image=luksa/kubia:v1", "--replicas=2")
	eventuallyOut(t, k, c, `^2$`, "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}")
	before := kubectlOK(t, k, c, "", "get", "pods", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}`)
	sandboxes := func() int {
		entries, _ := os.ReadDir(filepath.Join(n.DataDir, "agent", "runtime", "sandboxes"))
		return len(entries)
	}
	if sandboxes() != 2 {
		t.Fatalf("%d sandboxes before the restart", sandboxes())
	}
	n.Restart(t)
	eventuallyOut(t, k, c, `(?m)^e2e\s+Ready\s`, "get", "nodes")
	eventuallyOut(t, k, c, `^2$`, "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}")
	time.Sleep(2 * time.Second) // let the adopted pods' first syncs write whatever they would
	after := kubectlOK(t, k, c, "", "get", "pods", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}`)
	if after != before {
		t.Errorf("pods changed over the restart:\nbefore:\n%safter:\n%s", before, after)
	}
	if sandboxes() != 2 {
		t.Errorf("%d sandboxes after the restart", sandboxes())
	}
	kubectlOK(t, k, c, "", "delete", "deployment", "web")
	eventuallyOut(t, k, c, "^$", "get", "pods", "-o", "name")
	n.WaitTornDown(t)
}
