package kctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// get --raw prints the body as the server sent it; an error answer is
// kubectl's "Error from server"; create --raw POSTs the file unchanged.
func TestRaw(t *testing.T) {
	fs := newFakeServer(t, obj("v1", "ConfigMap", "default", "cm", nil, map[string]any{"data": map[string]any{"k": "v"}}))
	out, errOut, code := fs.run("", "get", "--raw", "/api/v1/namespaces/default/configmaps/cm")
	if code != 0 || !strings.Contains(out, `"name":"cm"`) || !strings.HasSuffix(out, "\n") {
		t.Fatalf("get --raw: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = fs.run("", "get", "--raw", "/api/v1/namespaces/default/configmaps/nope")
	if code != 1 || errOut != "Error from server (NotFound): configmaps \"nope\" not found\n" {
		t.Errorf("get --raw of a missing object: code %d, stderr %q", code, errOut)
	}
	for args, want := range map[string]string{
		"get pods --raw /x":         "error: arguments may not be passed when --raw is specified\n",
		"get --raw /x -o yaml":      "error: --raw and --output are mutually exclusive\n",
		"get --raw /x -l a=b":       "error: --raw may not be specified with other flags that filter the server request or alter the output\n",
		"get --raw x":               "error: --raw must be a valid URL path: parse \"x\": invalid URI for request\n",
		"create --raw /x -f a -f b": "error: --raw can only use a single local file or stdin\n",
	} {
		_, errOut, code := fs.run("", strings.Fields(args)...)
		if code != 1 || strings.ReplaceAll(errOut, "kctl", "kubectl") != want {
			t.Errorf("%s: code %d, stderr %q, want %q", args, code, errOut, want)
		}
	}
	file := filepath.Join(t.TempDir(), "cm.json")
	if err := os.WriteFile(file, []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"raw"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = fs.run("", "create", "--raw", "/api/v1/namespaces/default/configmaps", "-f", file)
	if code != 0 || !strings.Contains(out, `"name":"raw"`) {
		t.Fatalf("create --raw: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, ok := fs.objs["configmaps/default/raw"]; !ok {
		t.Errorf("create --raw did not create the object; requests: %v", fs.requests())
	}
}

// A bad --prune-allowlist entry stops apply before anything is written.
func TestPruneAllowlistCheckedFirst(t *testing.T) {
	fs := newFakeServer(t)
	file := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(file, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p1, labels: {app: pr}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := fs.run("", "apply", "-f", file, "--prune", "-l", "app=pr", "--prune-allowlist=ConfigMap")
	if code != 1 || errOut != "error: invalid GroupVersionKind format: ConfigMap, please follow <group/version/kind>\n" {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
	for _, r := range fs.requests() {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("apply wrote before checking the allow-list: %s", r)
		}
	}
}
