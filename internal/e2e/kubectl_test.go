package e2e

import (
	"strings"
	"testing"
)

// step is one kubectl command and what it must print. want* are matched
// against stdout/stderr: exact when wantOut is set, by substring for
// contains*; wantFail expects a non-zero exit.
type step struct {
	args        []string
	stdin       string
	wantOut     *string
	containsOut []string
	containsErr []string
	wantFail    bool
}

func out(s string) *string { return &s }

func runSteps(t *testing.T, k *Kubectl, c *Cluster, steps []step) {
	t.Helper()
	for _, s := range steps {
		r := k.Run(c, s.stdin, s.args...)
		name := "kubectl " + strings.Join(s.args, " ")
		if s.wantFail != (r.Err != nil) {
			t.Errorf("%s: exit error = %v, want failure %v\nstdout: %s\nstderr: %s", name, r.Err, s.wantFail, r.Stdout, r.Stderr)
			continue
		}
		if s.wantOut != nil && r.Stdout != *s.wantOut {
			t.Errorf("%s:\nstdout = %q\nwant     %q\nstderr: %s", name, r.Stdout, *s.wantOut, r.Stderr)
		}
		for _, want := range s.containsOut {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("%s: stdout lacks %q:\n%s\nstderr: %s", name, want, r.Stdout, r.Stderr)
			}
		}
		for _, want := range s.containsErr {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", name, want, r.Stderr)
			}
		}
	}
}

func TestKubectlConfigMaps(t *testing.T) {
	k := FindKubectl(t)
	c := Start(t)
	runSteps(t, k, c, []step{
		{args: []string{"version"}, containsOut: []string{"Server Version: v1.37.2+kserver"}},
		{args: []string{"create", "configmap", "web", "--from-literal=a=b"}, wantOut: out("configmap/web created\n")},
		{args: []string{"get", "configmap", "web", "-o", "name"}, wantOut: out("configmap/web\n")},
		{args: []string{"get", "cm", "web", "-o", "jsonpath={.data.a}"}, wantOut: out("b")},
		{args: []string{"get", "cm", "-l", "app=web"}, wantOut: out(""), containsErr: []string{"No resources found in default namespace."}},
		{args: []string{"label", "cm", "web", "app=web"}, wantOut: out("configmap/web labeled\n")},
		{args: []string{"get", "cm", "-l", "app=web", "-o", "name"}, wantOut: out("configmap/web\n")},
		{args: []string{"annotate", "cm", "web", "note=hi"}, wantOut: out("configmap/web annotated\n")},
		{args: []string{"get", "cm", "--field-selector", "metadata.name=web", "-o", "jsonpath={.items[*].metadata.annotations.note}"}, wantOut: out("hi")},
		{args: []string{"get", "cm", "-A", "-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name", "-l", "app=web"},
			wantOut: out("NS        NAME\ndefault   web\n")},
		{args: []string{"get", "cm", "-A", "-l", "app=web"}, containsOut: []string{"NAMESPACE   NAME   DATA   AGE\ndefault     web    1      "}},
		{args: []string{"get", "cm", "-l", "app=web", "--show-labels"}, containsOut: []string{"LABELS", "app=web"}},
		{args: []string{"patch", "cm", "web", "-p", `{"data":{"b":"c"}}`}, wantOut: out("configmap/web patched\n")},
		{args: []string{"patch", "cm", "web", "--type", "merge", "-p", `{"data":{"m":"1"}}`}, wantOut: out("configmap/web patched\n")},
		{args: []string{"patch", "cm", "web", "--type", "json", "-p", `[{"op":"remove","path":"/data/m"}]`}, wantOut: out("configmap/web patched\n")},
		{args: []string{"get", "cm", "web", "-o", "jsonpath={.data}"}, wantOut: out(`{"a":"b","b":"c"}`)},
		{args: []string{"get", "cm", "nope"}, wantFail: true, containsErr: []string{`Error from server (NotFound): configmaps "nope" not found`}},
		{args: []string{"create", "configmap", "web"}, wantFail: true, containsErr: []string{`error: failed to create configmap: configmaps "web" already exists`}},
		{args: []string{"create", "configmap", "x", "-n", "missing"}, wantFail: true, containsErr: []string{`namespaces "missing" not found`}},
		{args: []string{"delete", "cm", "web"}, wantOut: out(k.Deleted(`configmap "web"`, "default"))},
		{args: []string{"get", "cm", "web"}, wantFail: true, containsErr: []string{`configmaps "web" not found`}},
	})
}

func TestKubectlDeploymentScale(t *testing.T) {
	k := FindKubectl(t)
	c := Start(t)
	runSteps(t, k, c, []step{
		{args: []string{"create", "deployment", "web", "--image=nginx"}, wantOut: out("deployment.apps/web created\n")},
		{args: []string{"scale", "deployment", "web", "--replicas=3"}, wantOut: out("deployment.apps/web scaled\n")},
		{args: []string{"get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"}, wantOut: out("3 2")},
		{args: []string{"scale", "deployment", "web", "--current-replicas=2", "--replicas=4"}, wantFail: true,
			containsErr: []string{"Expected replicas to be 2, was 3"}},
		{args: []string{"delete", "deployment", "web", "--cascade=foreground"}, wantOut: out(k.Deleted(`deployment.apps "web"`, "default"))},
		{args: []string{"create", "deployment", "web", "--image=nginx"}, wantOut: out("deployment.apps/web created\n")},
		{args: []string{"delete", "deployment", "web", "--cascade=orphan"}, wantOut: out(k.Deleted(`deployment.apps "web"`, "default"))},
		{args: []string{"get", "deployment", "web"}, wantFail: true, containsErr: []string{`deployments.apps "web" not found`}},
	})
}

func TestKubectlDiscovery(t *testing.T) {
	k := FindKubectl(t)
	c := Start(t)
	r := k.Run(c, "", "api-resources")
	if r.Err != nil {
		t.Fatalf("api-resources: %v\n%s", r.Err, r.Stderr)
	}
	for _, want := range [][]string{
		{"configmaps", "cm", "v1", "true", "ConfigMap"},
		{"deployments", "deploy", "apps/v1", "true", "Deployment"},
		{"namespaces", "ns", "v1", "false", "Namespace"},
		{"horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"},
	} {
		found := false
		for _, line := range strings.Split(r.Stdout, "\n") {
			if strings.Join(strings.Fields(line), " ") == strings.Join(want, " ") {
				found = true
			}
		}
		if !found {
			t.Errorf("api-resources lacks %v:\n%s", want, r.Stdout)
		}
	}
	runSteps(t, k, c, []step{
		{args: []string{"get", "ns", "-o", "name"}, wantOut: out("namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\nnamespace/kube-system\n")},
		{args: []string{"get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].port}"}, wantOut: out("10.43.0.1 443")},
		{args: []string{"get", "--raw", "/readyz"}, wantOut: out("ok")},
	})
}

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: REPLICAS
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: nginx:1.27
        ports:
        - containerPort: 80
`

func deployment(replicas string) string {
	return strings.ReplaceAll(deploymentYAML, "REPLICAS", replicas)
}

func TestKubectlApplyExplainAndBadInput(t *testing.T) {
	k := FindKubectl(t)
	c := Start(t)
	runSteps(t, k, c, []step{
		{args: []string{"apply", "-f", "-"}, stdin: deployment("2"), wantOut: out("deployment.apps/web created\n")},
		{args: []string{"apply", "-f", "-"}, stdin: deployment("2"), wantOut: out("deployment.apps/web unchanged\n")},
		{args: []string{"apply", "-f", "-"}, stdin: deployment("3"), wantOut: out("deployment.apps/web configured\n")},
		{args: []string{"get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"}, wantOut: out("3")},
		{args: []string{"apply", "--server-side", "-f", "-"}, stdin: deployment("4"), wantOut: out("deployment.apps/web serverside-applied\n")},
		// Another manager changing a field owned by "kubectl" conflicts.
		{args: []string{"apply", "--server-side", "--field-manager", "other", "-f", "-"}, stdin: deployment("5"), wantFail: true,
			containsErr: []string{`Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas`}},
		{args: []string{"apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-"}, stdin: deployment("5"),
			wantOut: out("deployment.apps/web serverside-applied\n")},
		{args: []string{"get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"}, wantOut: out("5")},
		{args: []string{"replace", "-f", "-"}, stdin: deployment("1"), wantOut: out("deployment.apps/web replaced\n")},
		{args: []string{"explain", "deployment.spec.replicas"}, containsOut: []string{"KIND:       Deployment", "FIELD: replicas <integer>"}},
		// Unknown field: kubectl's default --validate=strict asks the server.
		{args: []string{"apply", "-f", "-"}, stdin: strings.Replace(deployment("1"), "  replicas: 1\n", "  replicas: 1\n  bogus: 1\n", 1), wantFail: true,
			containsErr: []string{`Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.bogus"`}},
		{args: []string{"create", "configmap", "Bad_Name"}, wantFail: true, containsErr: []string{`ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"`}},
		// Wrong apiVersion is caught by kubectl from discovery.
		{args: []string{"apply", "-f", "-"}, stdin: strings.Replace(deployment("1"), "apps/v1", "apps/v9", 1), wantFail: true,
			containsErr: []string{`no matches for kind "Deployment" in version "apps/v9"`}},
		{args: []string{"get", "deploy", "web", "-o", "yaml"}, containsOut: []string{"kind: Deployment", "resourceVersion:", "uid:"}},
		{args: []string{"get", "deploy", "-o", "wide"}, containsOut: []string{"CONTAINERS", "IMAGES", "SELECTOR", "nginx:1.27", "app=web"}},
		{args: []string{"delete", "-f", "-"}, stdin: deployment("1"), wantOut: out(k.Deleted(`deployment.apps "web"`, "default"))},
	})
}

func TestKubectlGetAllAndWatch(t *testing.T) {
	k := FindKubectl(t)
	c := Start(t)
	runSteps(t, k, c, []step{
		{args: []string{"create", "deployment", "web", "--image=nginx"}, wantOut: out("deployment.apps/web created\n")},
		{args: []string{"get", "all"}, containsOut: []string{"service/kubernetes", "deployment.apps/web"}},
		{args: []string{"get", "all", "-A", "-o", "name"}, containsOut: []string{"service/kubernetes\n", "deployment.apps/web\n"}},
	})
	// get -w prints the initial table, then one row per change.
	runSteps(t, k, c, []step{{args: []string{"create", "configmap", "w1"}, wantOut: out("configmap/w1 created\n")}})
	p, err := k.Start(c, "get", "configmaps", "-w", "--output-watch-events")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(p.Stdout(), "w1") })
	runSteps(t, k, c, []step{
		{args: []string{"label", "configmap", "w1", "a=b"}, wantOut: out("configmap/w1 labeled\n")},
		{args: []string{"delete", "configmap", "w1"}, wantOut: out(k.Deleted(`configmap "w1"`, "default"))},
	})
	waitFor(t, func() bool { return strings.Contains(p.Stdout(), "DELETED") })
	stdout, stderr := p.Stop()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "EVENT") || !strings.HasPrefix(lines[1], "ADDED") ||
		!strings.HasPrefix(lines[2], "MODIFIED") || !strings.HasPrefix(lines[3], "DELETED") {
		t.Errorf("get -w printed:\n%s\nstderr: %s", stdout, stderr)
	}
}
