package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

const logsManifest = `apiVersion: v1
kind: Pod
metadata:
  name: two
  labels: {app: two}
  annotations:
    sim.kserver.dev/log.a: "a says hello\na says bye"
    sim.kserver.dev/log.b: "b says hi"
spec:
  containers:
  - {name: a, image: busybox}
  - {name: b, image: busybox}
---
apiVersion: v1
kind: Pod
metadata:
  name: ticker
  annotations:
    sim.kserver.dev/log: "started"
    sim.kserver.dev/log-interval: "300ms"
spec:
  containers:
  - {name: c, image: busybox}
---
apiVersion: v1
kind: Pod
metadata:
  name: crash
  annotations:
    sim.kserver.dev/log: "attempt output"
    sim.kserver.dev/run-for: "300ms"
    sim.kserver.dev/exit-code: "3"
spec:
  containers:
  - {name: c, image: busybox}
---
apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  containers:
  - {name: c, image: not-present:1, imagePullPolicy: Never}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dep
spec:
  replicas: 2
  selector:
    matchLabels: {app: dep}
  template:
    metadata:
      labels: {app: dep}
      annotations:
        sim.kserver.dev/log: "from the deployment"
    spec:
      containers:
      - {name: c, image: busybox}
`

// TestKubectlLogs: kubectl logs with its flags against simulated pods, for
// every kubectl generation installed.
func TestKubectlLogs(t *testing.T) {
	c := startSimCluster(t)
	ks := kubectls(t)
	k := ks[len(ks)-1]
	k.applyYAML(t, c, logsManifest)
	k.waitRunning(t, c, "two", "ticker")
	k.waitOutput(t, c, regexp.MustCompile(`^2$`), "get", "deploy", "dep", "-o", "jsonpath={.status.readyReplicas}")
	for _, k := range ks {
		t.Run(fmt.Sprintf("1.%d", k.Minor), func(t *testing.T) {
			for _, tc := range []struct {
				args           []string
				stdout, stderr string // regular expressions
			}{
				{[]string{"logs", "two"}, "^a says hello\na says bye\n$", `Defaulted container "a" out of: a, b`},
				{[]string{"logs", "two", "-c", "b"}, "^b says hi\n$", "^$"},
				// kubectl 1.31+ reads the containers in parallel: either order
				{[]string{"logs", "two", "--all-containers"}, "^(a says hello\na says bye\nb says hi\n|b says hi\na says hello\na says bye\n)$", "^$"},
				{[]string{"logs", "two", "--all-containers", "--prefix"},
					`^(\[pod/two/a\] a says hello\n\[pod/two/a\] a says bye\n\[pod/two/b\] b says hi\n|\[pod/two/b\] b says hi\n\[pod/two/a\] a says hello\n\[pod/two/a\] a says bye\n)$`, "^$"},
				{[]string{"logs", "two", "-c", "a", "--tail=1"}, "^a says bye\n$", "^$"},
				{[]string{"logs", "two", "-c", "a", "--since=1h"}, "^a says hello\na says bye\n$", "^$"},
				{[]string{"logs", "two", "-c", "a", "--since-time=2999-01-01T00:00:00Z"}, "^$", "^$"},
				{[]string{"logs", "two", "-c", "a", "--limit-bytes=5"}, "^a say$", "^$"},
				{[]string{"logs", "two", "-c", "b", "--timestamps"}, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z b says hi\n$`, "^$"},
				{[]string{"logs", "-l", "app=two", "-c", "b"}, "^b says hi\n$", ""},
				{[]string{"logs", "deploy/dep"}, "^from the deployment\n$", `Found 2 pods, using pod/dep-`},
				{[]string{"logs", "-l", "app=dep", "--prefix"}, `^\[pod/dep-\S+/c\] from the deployment\n\[pod/dep-\S+/c\] from the deployment\n$`, ""},
				{[]string{"logs", "two", "-c", "nope"}, "^$", `container nope is not valid for pod two`},
				{[]string{"logs", "nothere"}, "^$", `(?i)Error from server \(NotFound\): pods "nothere" not found`},
			} {
				r := k.Run(c, "", tc.args...)
				if !regexp.MustCompile(tc.stdout).MatchString(r.Stdout) || (tc.stderr != "" && !regexp.MustCompile(tc.stderr).MatchString(r.Stderr)) {
					t.Errorf("kubectl %s:\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(tc.args, " "),
						r.Stdout, tc.stdout, r.Stderr, tc.stderr)
				}
			}
		})
	}

	// A waiting container: the kubelet's message as a BadRequest.
	k.waitOutput(t, c, regexp.MustCompile(`ErrImageNeverPull`), "get", "pod", "never")
	if r := k.Run(c, "", "logs", "never"); exitCode(r.Err) != 1 || r.Stderr !=
		"Error from server (BadRequest): container \"c\" in pod \"never\" is waiting to start: ErrImageNeverPull\n" {
		t.Errorf("logs of a waiting container: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}

	// --previous after a restart; before one, upstream's message.
	k.waitOutput(t, c, regexp.MustCompile(`^[1-9]`), "get", "pod", "crash", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
	if out := k.must(t, c, "", "logs", "crash", "-p"); out != "attempt output\n" {
		t.Errorf("logs -p = %q", out)
	}
	if r := k.Run(c, "", "logs", "ticker", "-p"); r.Stderr !=
		"Error from server (BadRequest): previous terminated container \"c\" in pod \"ticker\" not found\n" {
		t.Errorf("logs -p without a restart: %q", r.Stderr)
	}
}

// TestKubectlLogsFollow: lines reach kubectl logs -f as they are written.
func TestKubectlLogsFollow(t *testing.T) {
	c := startSimCluster(t)
	for _, k := range kubectls(t) {
		t.Run(fmt.Sprintf("1.%d", k.Minor), func(t *testing.T) {
			name := fmt.Sprintf("tick%d", k.Minor)
			k.must(t, c, "", "run", name, "--image=busybox", "--annotations=sim.kserver.dev/log=started",
				"--annotations=sim.kserver.dev/log-interval=200ms")
			k.waitRunning(t, c, name)
			p, err := k.Start(c, "logs", "-f", name, "--tail=1")
			if err != nil {
				t.Fatal(err)
			}
			// The line printed by the tail ("started" counts as tick 0),
			// then the lines written after it.
			first := -1
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				out := p.Stdout()
				if first < 0 && strings.HasPrefix(out, "started\n") {
					first = 0
				} else if first < 0 && strings.HasPrefix(out, "tick ") {
					_, _ = fmt.Sscanf(out, "tick %d", &first)
				}
				if first >= 0 && strings.Contains(out, fmt.Sprintf("tick %d\n", first+3)) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			out, errOut := p.Stop()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			consecutive := first >= 0 && len(lines) >= 4
			for i := 1; consecutive && i < len(lines); i++ {
				consecutive = lines[i] == fmt.Sprintf("tick %d", first+i)
			}
			if !consecutive {
				t.Errorf("logs -f printed %q (stderr %q)", out, errOut)
			}
		})
	}
}
