package kctl

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// referenceKubectl is a stock kubectl to compare with: $KCTL_REFERENCE_KUBECTL
// or the newest /usr/lib/google-cloud-sdk/bin/kubectl.1.NN; "" when none.
func referenceKubectl() string {
	if p := os.Getenv("KCTL_REFERENCE_KUBECTL"); p != "" {
		return p
	}
	m, _ := filepath.Glob("/usr/lib/google-cloud-sdk/bin/kubectl.1.*")
	sort.Slice(m, func(i, j int) bool { return len(m[i]) < len(m[j]) || len(m[i]) == len(m[j]) && m[i] < m[j] })
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

// minorOf reads NN from a kubectl.1.NN file name (37 when unknown).
func minorOf(path string) int {
	var n int
	if _, err := fmt.Sscanf(filepath.Base(path), "kubectl.1.%d", &n); err != nil {
		return 37
	}
	return n
}

// runKubectl runs the reference kubectl against the fake server.
func (fs *fakeServer) runKubectl(bin string, args ...string) (string, string, int) {
	fs.t.Helper()
	cmd := exec.Command(bin, append([]string{"--kubeconfig", fs.kubeconfig()}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+fs.t.TempDir())
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		fs.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func podServer(t *testing.T) *fakeServer {
	fs := newFakeServer(t,
		obj("v1", "Pod", "default", "web-1", map[string]string{"app": "web", "tier": "fe"}, map[string]any{"status": map[string]any{"phase": "Running"}}),
		obj("v1", "Pod", "default", "db-0", map[string]string{"app": "db"}, map[string]any{"status": map[string]any{"phase": "Pending"}}),
		obj("v1", "Pod", "kube-system", "coredns-abc", map[string]string{"k8s-app": "kube-dns"}, map[string]any{"status": map[string]any{"phase": "Running"}}),
		obj("v1", "Service", "default", "web", nil, nil),
		obj("apps/v1", "Deployment", "default", "web", map[string]string{"app": "web"}, nil),
	)
	fs.columns["pods"] = []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"}, {Name: "Ready", Type: "string"}, {Name: "Status", Type: "string"},
		{Name: "Restarts", Type: "string"}, {Name: "Age", Type: "string"}, {Name: "IP", Type: "string", Priority: 1}, {Name: "Node", Type: "string", Priority: 1}}
	fs.cells["pods"] = func(u *unstructured.Unstructured) []any {
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		return []any{u.GetName(), "1/1", phase, int64(0), "10m", "10.42.0.5", "node1"}
	}
	return fs
}

func TestGetTables(t *testing.T) {
	cases := []struct {
		name string
		args []string
		out  string
		err  string
		code int
	}{
		{"list", []string{"get", "pods"}, "NAME    READY   STATUS    RESTARTS   AGE\ndb-0    1/1     Pending   0          10m\nweb-1   1/1     Running   0          10m\n", "", 0},
		{"wide", []string{"get", "po", "-o", "wide"}, "NAME    READY   STATUS    RESTARTS   AGE   IP          NODE\ndb-0    1/1     Pending   0          10m   10.42.0.5   node1\nweb-1   1/1     Running   0          10m   10.42.0.5   node1\n", "", 0},
		{"all namespaces", []string{"get", "pods", "-A", "--no-headers"}, "default       db-0          1/1   Pending   0     10m\ndefault       web-1         1/1   Running   0     10m\nkube-system   coredns-abc   1/1   Running   0     10m\n", "", 0},
		{"labels", []string{"get", "pods", "--show-labels", "-L", "tier"}, "NAME    READY   STATUS    RESTARTS   AGE   TIER   LABELS\ndb-0    1/1     Pending   0          10m          app=db\nweb-1   1/1     Running   0          10m   fe     app=web,tier=fe\n", "", 0},
		{"selector", []string{"get", "pods", "-l", "app=web"}, "NAME    READY   STATUS    RESTARTS   AGE\nweb-1   1/1     Running   0          10m\n", "", 0},
		{"sort", []string{"get", "pods", "--sort-by=.status.phase"}, "NAME    READY   STATUS    RESTARTS   AGE\ndb-0    1/1     Pending   0          10m\nweb-1   1/1     Running   0          10m\n", "", 0},
		{"empty namespace", []string{"get", "pods", "-n", "empty"}, "", "No resources found in empty namespace.\n", 0},
		{"cluster scoped empty", []string{"get", "nodes"}, "", "No resources found\n", 0},
		{"multiple kinds", []string{"get", "pods,deploy", "-l", "app=web"}, "NAME        READY   STATUS    RESTARTS   AGE\npod/web-1   1/1     Running   0          10m\n\nNAME                  AGE\ndeployment.apps/web   10m\n", "", 0},
		{"type/name", []string{"get", "pod/web-1", "svc/web"}, "NAME        READY   STATUS    RESTARTS   AGE\npod/web-1   1/1     Running   0          10m\n\nNAME          AGE\nservice/web   10m\n", "", 0},
		{"not found", []string{"get", "pods", "web-1", "nope"}, "NAME    READY   STATUS    RESTARTS   AGE\nweb-1   1/1     Running   0          10m\n", "Error from server (NotFound): pods \"nope\" not found\n", 1},
		{"ignore not found", []string{"get", "pods", "nope", "--ignore-not-found"}, "", "", 0},
		{"unknown type", []string{"get", "pdos"}, "", "error: the server doesn't have a resource type \"pdos\"\n\nDid you mean this?\n\tpods\n", 1},
		{"name output", []string{"get", "pods", "-o", "name"}, "pod/db-0\npod/web-1\n", "", 0},
		{"jsonpath", []string{"get", "pods", "-o", "jsonpath={.items[*].metadata.name}"}, "db-0 web-1", "", 0},
		{"custom columns", []string{"get", "pods", "-o", "custom-columns=NAME:.metadata.name,APP:metadata.labels.app,X:.spec.nope"}, "NAME    APP   X\ndb-0    db    <none>\nweb-1   web   <none>\n", "", 0},
		{"go-template", []string{"get", "pod", "web-1", "-o", "go-template={{.metadata.name}}"}, "web-1", "", 0},
		{"bad output", []string{"get", "pods", "-o", "foo"}, "", "error: unable to match a printer suitable for the output format \"foo\", allowed formats are: " + allowedFormats + "\n", 1},
	}
	// The reference kubectl's output matches from this release on.
	minMinor := map[string]int{"bad output": 34}
	fs := podServer(t)
	ref := referenceKubectl()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := fs.run("", c.args...)
			if out != c.out || errOut != c.err || code != c.code {
				t.Errorf("kctl %v:\nstdout %q\nwant   %q\nstderr %q\nwant   %q\ncode %d want %d", c.args, out, c.out, errOut, c.err, code, c.code)
			}
			if ref == "" || c.name == "unknown type" || minorOf(ref) < minMinor[c.name] {
				return
			}
			kout, kerr, kcode := fs.runKubectl(ref, c.args...)
			if kout != out || kcode != code || kerr != errOut {
				t.Errorf("differs from %s %v:\nkubectl stdout %q\nkctl           %q\nkubectl stderr %q\nkctl           %q\ncodes %d %d", ref, c.args, kout, out, kerr, errOut, kcode, code)
			}
		})
	}
}

func TestGetYAMLSingleAndList(t *testing.T) {
	fs := podServer(t)
	out, _, code := fs.run("", "get", "svc", "web", "-o", "yaml")
	if code != 0 || !strings.HasPrefix(out, "apiVersion: v1\nkind: Service\nmetadata:\n") {
		t.Fatalf("single object yaml: code %d\n%s", code, out)
	}
	out, _, _ = fs.run("", "get", "svc", "-o", "yaml")
	if !strings.HasPrefix(out, "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Service\n") || !strings.HasSuffix(out, "kind: List\nmetadata:\n  resourceVersion: \"\"\n") {
		t.Fatalf("list yaml:\n%s", out)
	}
	out, _, _ = fs.run("", "get", "configmaps", "-o", "json")
	if out != "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n" {
		t.Fatalf("empty list json:\n%q", out)
	}
}

func TestGetSendsTableAccept(t *testing.T) {
	fs := podServer(t)
	fs.run("", "get", "pods", "--sort-by=.metadata.name")
	found := false
	for _, r := range fs.requests() {
		if strings.HasPrefix(r, "GET /api/v1/namespaces/default/pods?") && strings.Contains(r, "includeObject=Object") && strings.Contains(r, "limit=500") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no list request with includeObject=Object&limit=500 in %v", fs.requests())
	}
}
