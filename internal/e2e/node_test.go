package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Real pods on runc with stock kubectl, each test on a node of its own
// inside a network namespace of its own (StartNode). Root only.

// kubectlOK runs kubectl and fails the test on an error.
func kubectlOK(t *testing.T, k *Kubectl, c *Cluster, stdin string, args ...string) string {
	t.Helper()
	r := k.Run(c, stdin, args...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// eventuallyOut runs kubectl until its output matches re (within 90 s,
// the machine is shared and slow) and returns it.
func eventuallyOut(t *testing.T, k *Kubectl, c *Cluster, re string, args ...string) string {
	t.Helper()
	want := regexp.MustCompile(re)
	deadline := time.Now().Add(90 * time.Second)
	var last Result
	for time.Now().Before(deadline) {
		last = k.Run(c, "", args...)
		if last.Err == nil && want.MatchString(last.Stdout) {
			return last.Stdout
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("kubectl %s never matched %q; last output:\n%s%s (%v)", strings.Join(args, " "), re, last.Stdout, last.Stderr, last.Err)
	return ""
}

// podJSON reads a pod.
func podJSON(t *testing.T, k *Kubectl, c *Cluster, ns, name string) *corev1.Pod {
	t.Helper()
	out := kubectlOK(t, k, c, "", "get", "pod", name, "-n", ns, "-o", "json")
	p := &corev1.Pod{}
	if err := json.Unmarshal([]byte(out), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitRunning waits for a pod's phase Running with every container ready.
func waitRunning(t *testing.T, k *Kubectl, c *Cluster, ns, name string) *corev1.Pod {
	t.Helper()
	eventuallyOut(t, k, c, `^True$`, "get", "pod", name, "-n", ns, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
	return podJSON(t, k, c, ns, name)
}

func TestNodeRunsKubia(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	eventuallyOut(t, k, n.Cluster, `(?m)^e2e\s+Ready\s`, "get", "nodes")
	kubectlOK(t, k, n.Cluster, "", "run", "kubia", "--image=luksa/kubia:v1", "--port=8080")
	p := waitRunning(t, k, n.Cluster, "default", "kubia")
	if p.Status.PodIP == "" || !strings.HasPrefix(p.Status.PodIP, "10.42.") {
		t.Fatalf("pod IP %q is not from the node's pod CIDR", p.Status.PodIP)
	}
	cs := p.Status.ContainerStatuses[0]
	if !strings.HasPrefix(cs.ContainerID, "runc://") || cs.ImageID == "" || cs.State.Running == nil {
		t.Errorf("container status: %+v", cs)
	}
	// The pod answers on its address from the node's network namespace.
	out, err := n.Exec(t, "curl", "-sS", "--max-time", "10", fmt.Sprintf("http://%s:8080/", p.Status.PodIP))
	if err != nil || !strings.Contains(out, "You've hit kubia") {
		t.Fatalf("curl pod: %v: %s", err, out)
	}
	kubectlOK(t, k, n.Cluster, "", "delete", "pod", "kubia", "--wait=true")
	n.WaitTornDown(t)
}
