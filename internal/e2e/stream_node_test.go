package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const nodeStreamManifest = `apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "head -c 25165824 /dev/zero > /dev/shm/fill; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
---
apiVersion: v1
kind: Pod
metadata:
  name: kubia
spec:
  containers:
  - name: c
    image: luksa/kubia:v1
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; echo attempt $n; exit 1"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, emptyDir: {}}]
`

// TestNodeStreams: logs -f, exec (exit codes, stdin, a terminal with
// resize), port-forward and top against real containers on runc, through
// the API server and the embedded agent, with the newest kubectl
// (WebSocket) and, when installed, 1.27–1.29 (SPDY). Root only.
func TestNodeStreams(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	ks := kubectls(t)
	k := ks[len(ks)-1]
	k.waitOutput(t, n.Cluster, regexp.MustCompile(`(?m)^e2e\s+Ready\s`), "get", "nodes")
	k.applyYAML(t, n.Cluster, nodeStreamManifest)
	k.waitRunning(t, n.Cluster, "ticker", "kubia")

	versions := []*Kubectl{k}
	if ks[0].Minor > 0 && ks[0].Minor < 30 {
		versions = append(versions, ks[0])
	}
	for _, k := range versions {
		t.Run(fmt.Sprintf("1.%d", k.Minor), func(t *testing.T) {
			followTicks(t, k, n.Cluster)
			r := k.Run(n.Cluster, "", "exec", "ticker", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
			if exitCode(r.Err) != 7 || r.Stdout != "out\n" || r.Stderr != "err\ncommand terminated with exit code 7\n" {
				t.Errorf("exec exit 7: %v %q %q", r.Err, r.Stdout, r.Stderr)
			}
			if out := k.must(t, n.Cluster, "line one\nline two\n", "exec", "-i", "ticker", "--", "cat"); out != "line one\nline two\n" {
				t.Errorf("exec -i cat = %q", out)
			}
			execTTY(t, k, n.Cluster, "ticker")
			copyRoundTrip(t, k, n.Cluster)
			if got := forwardGET(t, k, n.Cluster, nil, "pod/kubia", ":8080"); !strings.HasPrefix(got, "You've hit kubia") {
				t.Errorf("GET through port-forward = %q", got)
			}
		})
	}

	// --previous reads the attempt before the current one.
	previousLog(t, k, n.Cluster)
	k.must(t, n.Cluster, "", "delete", "pod", "crasher") // not to be caught running by top below

	// Usage from the pods' cgroups: the ticker keeps 24 MiB in /dev/shm,
	// charged to its memory cgroup.
	k.waitOutput(t, n.Cluster, regexp.MustCompile(`^kubia\s+\d+m\s+\d+Mi\s*\nticker\s+\d+m\s+2[4-9]Mi\s*\n$`), "top", "pod", "--no-headers")
	k.waitOutput(t, n.Cluster, regexp.MustCompile(`^e2e\s+[1-9]\d*m\s+\d+%\s+[1-9]\d*Mi\s+\d+%\s*\n$`), "top", "node", "--no-headers")
}

// followTicks runs kubectl logs -f on the ticker and waits for three
// consecutive new lines after the tail.
func followTicks(t *testing.T, k *Kubectl, c *Cluster) {
	t.Helper()
	p, err := k.Start(c, "logs", "-f", "ticker", "--tail=1")
	if err != nil {
		t.Fatal(err)
	}
	first := -1
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out := p.Stdout()
		if first < 0 {
			_, _ = fmt.Sscanf(out, "tick %d", &first)
		}
		if first >= 0 && strings.Contains(out, fmt.Sprintf("tick %d\n", first+3)) {
			break
		}
	}
	out, errOut := p.Stop()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	ok := first >= 0 && len(lines) >= 4
	for i := 1; ok && i < len(lines); i++ {
		ok = lines[i] == fmt.Sprintf("tick %d", first+i)
	}
	if !ok {
		t.Errorf("logs -f printed %q (stderr %q)", out, errOut)
	}
}

// copyRoundTrip copies a file into the ticker with kubectl cp (tar through
// exec stdin, which needs the half-close of stdin) and back out.
func copyRoundTrip(t *testing.T, k *Kubectl, c *Cluster) {
	t.Helper()
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	src := filepath.Join(dir, "in.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	k.must(t, c, "", "cp", src, "ticker:/tmp/in.bin")
	if out := k.must(t, c, "", "exec", "ticker", "--", "wc", "-c", "/tmp/in.bin"); !strings.HasPrefix(strings.TrimSpace(out), "1048576") {
		t.Errorf("size in the pod: %q", out)
	}
	back := filepath.Join(dir, "out.bin")
	k.must(t, c, "", "cp", "ticker:/tmp/in.bin", back)
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
		t.Errorf("kubectl cp round trip: %v, %d bytes back", err, len(got))
	}
}

// previousLog waits for the crasher's restart and compares logs with logs
// --previous: attempt k+1 and attempt k (the attempts count in an emptyDir,
// which outlives the container).
func previousLog(t *testing.T, k *Kubectl, c *Cluster) {
	t.Helper()
	var cur, prev Result
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		cur = k.Run(c, "", "logs", "crasher")
		prev = k.Run(c, "", "logs", "crasher", "--previous")
		var a, b int
		if _, err := fmt.Sscanf(cur.Stdout, "attempt %d\n", &a); err != nil {
			continue
		}
		if _, err := fmt.Sscanf(prev.Stdout, "attempt %d\n", &b); err != nil {
			continue
		}
		if a == b+1 && cur.Stdout == fmt.Sprintf("attempt %d\n", a) && prev.Stdout == fmt.Sprintf("attempt %d\n", b) {
			return
		}
	}
	t.Errorf("logs crasher = %q %q, --previous = %q %q", cur.Stdout, cur.Stderr, prev.Stdout, prev.Stderr)
}
