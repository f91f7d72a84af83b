package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestDebugEphemeralContainer: `kubectl debug` adds an ephemeral
// container to a running pod on a runc node; it runs in the pod's network
// namespace (reaches kubia on 127.0.0.1:8080), `debug -i` attaches to it,
// its status is reported and it is not restarted after it exits. Root
// only.
func TestDebugEphemeralContainer(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	k.waitOutput(t, n.Cluster, regexp.MustCompile(`(?m)^e2e\s+Ready\s`), "get", "nodes")
	k.applyYAML(t, n.Cluster, strings.SplitN(proxyManifest, "---", 2)[0])
	k.waitRunning(t, n.Cluster, "kubia")

	k.must(t, n.Cluster, "", "debug", "kubia", "--image=busybox", "-c", "probe", "--", "wget", "-qO-", "127.0.0.1:8080")
	k.waitOutput(t, n.Cluster, regexp.MustCompile(`^You've hit kubia\n$`), "logs", "kubia", "-c", "probe")
	k.waitOutput(t, n.Cluster, regexp.MustCompile(`^0 0$`), "get", "pod", "kubia", "-o",
		`jsonpath={.status.ephemeralContainerStatuses[?(@.name=="probe")].state.terminated.exitCode} {.status.ephemeralContainerStatuses[?(@.name=="probe")].restartCount}`)

	r := k.Run(n.Cluster, "echo hello from $((6*7))\nexit 0\n", "debug", "-i", "kubia", "--image=busybox", "-c", "shell", "--", "sh")
	if r.Err != nil || !strings.Contains(r.Stdout, "hello from 42\n") {
		t.Errorf("kubectl debug -i: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	if out := k.must(t, n.Cluster, "", "get", "pod", "kubia", "-o", "jsonpath={.status.phase} {.status.containerStatuses[0].restartCount}"); out != "Running 0" {
		t.Errorf("pod after debugging = %q, want Running 0", out)
	}
}
