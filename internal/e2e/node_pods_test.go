package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/server"
)

// logOf reads a container's log file (attempt 0) from the node, without
// the CRI prefixes.
func (n *Node) logOf(t *testing.T, k *Kubectl, ns, pod, container string, attempt int) string {
	t.Helper()
	uid := strings.TrimSpace(kubectlOK(t, k, n.Cluster, "", "get", "pod", pod, "-n", ns, "-o", "jsonpath={.metadata.uid}"))
	b, err := os.ReadFile(filepath.Join(runtime.LogDir(n.LogRoot, ns, pod, uid), runtime.LogPath(container, uint32(attempt))))
	if err != nil {
		return ""
	}
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if f := strings.SplitN(line, " ", 4); len(f) == 4 {
			out.WriteString(f[3])
			if f[2] == "F" {
				out.WriteByte('\n')
			}
		}
	}
	return out.String()
}

// waitLog waits until a container's log matches re.
func (n *Node) waitLog(t *testing.T, k *Kubectl, ns, pod, container, re string) string {
	t.Helper()
	want := regexp.MustCompile(re)
	deadline := time.Now().Add(90 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = n.logOf(t, k, ns, pod, container, 0); want.MatchString(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("log of %s/%s never matched %q:\n%s", pod, container, re, last)
	return ""
}

const envPod = `apiVersion: v1
kind: Pod
metadata:
  name: env
  labels: {app: env}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "env | sort; echo \"$0 $1\"", "ARGS", "$(FROM_CM)"]
    env:
    - name: FROM_CM
      valueFrom: {configMapKeyRef: {name: cfg, key: color}}
    - {name: GREETING, value: "hello $(FROM_CM) $(UNDEFINED) $$(FROM_CM)"}
    - name: FROM_SECRET
      valueFrom: {secretKeyRef: {name: sec, key: password}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: NODE
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - name: APP
      valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
    - name: MEM
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    - name: MISSING_OK
      valueFrom: {configMapKeyRef: {name: nope, key: x, optional: true}}
    envFrom:
    - prefix: CM_
      configMapRef: {name: cfg}
    resources:
      limits: {memory: 64Mi}
`

func nodeEnvironment(t *testing.T, nc *nodeCase) {
	nc.ok(t, "", "create", "configmap", "cfg", "--from-literal=color=blue", "--from-literal=size=L")
	nc.ok(t, "", "create", "secret", "generic", "sec", "--from-literal=password=s3cret")
	nc.ok(t, "", "create", "service", "clusterip", "backend-db", "--tcp=5432:5432")
	nc.ok(t, envPod, "apply", "-f", "-")
	nc.eventually(t, `^Succeeded$`, "get", "pod", "env", "-o", "jsonpath={.status.phase}")
	p := podJSON(t, nc.k, nc.c, nc.ns, "env")
	log := nc.logOf(t, nc.k, nc.ns, "env", "c", 0)
	svcIP := strings.TrimSpace(nc.ok(t, "", "get", "svc", "backend-db", "-o", "jsonpath={.spec.clusterIP}"))
	kubeIP := strings.TrimSpace(nc.ok(t, "", "get", "svc", "kubernetes", "-n", "default", "-o", "jsonpath={.spec.clusterIP}"))
	for _, want := range []string{
		"FROM_CM=blue", "FROM_SECRET=s3cret", "GREETING=hello blue $(UNDEFINED) $(FROM_CM)", "POD_NAME=env", "POD_IP=" + p.Status.PodIP,
		"NODE=e2e", "APP=env", "MEM=64", "CM_color=blue", "CM_size=L", "ARGS blue",
		"BACKEND_DB_SERVICE_HOST=" + svcIP, "BACKEND_DB_SERVICE_PORT=5432", "BACKEND_DB_SERVICE_PORT_5432_5432=5432",
		"BACKEND_DB_PORT=tcp://" + svcIP + ":5432", "BACKEND_DB_PORT_5432_TCP_ADDR=" + svcIP, "BACKEND_DB_PORT_5432_TCP_PROTO=tcp",
		"KUBERNETES_SERVICE_HOST=" + kubeIP, "KUBERNETES_SERVICE_PORT=443", "KUBERNETES_PORT_443_TCP=tcp://" + kubeIP + ":443",
		"PATH=/usr/local/sbin:",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("environment lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "MISSING_OK") {
		t.Errorf("an optional missing key made a variable:\n%s", log)
	}

	// A missing key that is not optional: CreateContainerConfigError with
	// the kubelet's message.
	bad := strings.ReplaceAll(strings.ReplaceAll(envPod, "name: env\n", "name: bad\n"), "key: color}", "key: colour}")
	nc.ok(t, bad, "apply", "-f", "-")
	nc.eventually(t, `CreateContainerConfigError couldn't find key colour in ConfigMap `+nc.ns+`/cfg`,
		"get", "pod", "bad", "-o", `jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].state.waiting.message}`)
}

const volumesPod = `apiVersion: v1
kind: Pod
metadata:
  name: vols
  labels: {app: vols, tier: web}
spec:
  initContainers:
  - name: init-1
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo first >> /shared/order"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: init-2
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo second >> /shared/order"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: writer
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do cat /config/color > /shared/color.tmp; mv /shared/color.tmp /shared/color; cat /info/labels > /shared/labels; sleep 0.2; done"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    - {name: config, mountPath: /config}
    - {name: info, mountPath: /info}
  - name: reader
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "cat /shared/order; cat /secret/password; echo; cat /token/namespace; echo; head -c 3 /token/token; echo; ls -a /config; cat /sub/only; echo; stat -c '%a' /secret/..data/password; trap 'exit 0' TERM; sleep 3600 & wait"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    - {name: secret, mountPath: /secret}
    - {name: token, mountPath: /token}
    - {name: config, mountPath: /config}
    - {name: config, mountPath: /sub/only, subPath: color}
  volumes:
  - name: shared
    emptyDir: {}
  - name: config
    configMap: {name: cfg}
  - name: secret
    secret: {secretName: sec, defaultMode: 0400}
  - name: info
    downwardAPI:
      items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
  - name: token
    projected:
      sources:
      - serviceAccountToken: {path: token, expirationSeconds: 3600}
      - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]}
`

func nodeVolumes(t *testing.T, nc *nodeCase) {
	nc.ok(t, "", "create", "configmap", "cfg", "--from-literal=color=blue")
	nc.ok(t, "", "create", "secret", "generic", "sec", "--from-literal=password=s3cret")
	nc.ok(t, volumesPod, "apply", "-f", "-")
	p := waitRunning(t, nc.k, nc.c, nc.ns, "vols")
	log := nc.waitLog(t, nc.k, nc.ns, "vols", "reader", `(?s)\d+\n$`)
	for _, want := range []string{"first\nsecond\n", "s3cret\n", nc.ns + "\n", "eyJ\n", "..data\n", "color\n", "blue\n", "400\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("reader saw no %q:\n%s", want, log)
		}
	}
	// The emptyDir the two containers share, seen from the node.
	shared := filepath.Join(nc.DataDir, "agent", "pods", string(p.UID), "volumes", "kubernetes.io~empty-dir", "shared")
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(shared, name))
		return strings.TrimSpace(string(b))
	}
	waitFor(t, func() bool { return read("color") == "blue" })
	if got := read("labels"); got != "app=\"vols\"\ntier=\"web\"" {
		t.Errorf("downward API labels: %q", got)
	}
	// Live updates: the ConfigMap and the labels change under the running pod.
	start := time.Now()
	nc.ok(t, "", "patch", "configmap", "cfg", "-p", `{"data":{"color":"green"}}`)
	waitFor(t, func() bool { return read("color") == "green" })
	t.Logf("configMap update reached the container in %v", time.Since(start).Round(time.Millisecond))
	nc.ok(t, "", "label", "pod", "vols", "tier=db", "--overwrite")
	waitFor(t, func() bool { return read("labels") == "app=\"vols\"\ntier=\"db\"" })
	// Secret volumes live on tmpfs.
	secretDir := filepath.Join(nc.DataDir, "agent", "pods", string(p.UID), "volumes", "kubernetes.io~secret", "secret")
	if !containsMount(MountsBelow(nc.DataDir), secretDir) {
		t.Errorf("secret volume %s is not a mount", secretDir)
	}
	nc.ok(t, "", "delete", "pod", "vols", "--wait=true")
	nc.WaitTornDown(t)
}

func containsMount(mounts []string, p string) bool {
	for _, m := range mounts {
		if m == p {
			return true
		}
	}
	return false
}

// monitors lists the node's conmon processes (their command line names
// the node's runtime folder).
func (n *Node) monitors(t *testing.T) []int {
	t.Helper()
	root := server.RuntimeRunDir(n.DataDir)
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if filepath.Base(args[0]) == "conmon" && strings.Contains(string(b), root) {
			out = append(out, pid)
		}
	}
	return out
}
