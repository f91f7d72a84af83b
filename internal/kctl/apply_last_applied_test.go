package kctl

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestAnnotationPatchSetsOnlyTheAnnotation(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "la", "namespace": "ns", "labels": map[string]any{"a": "b"}}, "data": map[string]any{"k": "v"}}}
	patch, config, err := annotationPatch(u)
	if err != nil {
		t.Fatal(err)
	}
	wantConfig := `{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"labels":{"a":"b"},"name":"la","namespace":"ns"}}` + "\n"
	if string(config) != wantConfig {
		t.Errorf("config %q, want %q", config, wantConfig)
	}
	var p map[string]any
	if err := json.Unmarshal(patch, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"metadata": map[string]any{"annotations": map[string]any{lastAppliedAnnotation: wantConfig}}}
	if b, w := mustJSON(p), mustJSON(want); b != w {
		t.Errorf("patch %s, want %s", b, w)
	}
	if _, ok := u.GetAnnotations()[lastAppliedAnnotation]; ok {
		t.Error("annotationPatch changed its input")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestViewLastApplied(t *testing.T) {
	applied := obj("v1", "ConfigMap", "default", "la", nil, map[string]any{"data": map[string]any{"k": "v"}})
	applied.SetAnnotations(map[string]string{lastAppliedAnnotation: `{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"name":"la","namespace":"default"}}` + "\n"})
	fs := newFakeServer(t, applied, obj("v1", "ConfigMap", "default", "plain", nil, nil))
	out, errOut, code := fs.run("", "apply", "view-last-applied", "cm/la")
	want := "apiVersion: v1\ndata:\n  k: v\nkind: ConfigMap\nmetadata:\n  name: la\n  namespace: default\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("yaml: %d %q %q", code, out, errOut)
	}
	out, _, _ = fs.run("", "apply", "view-last-applied", "configmap", "la", "-o", "json")
	if out != "{\n  \"apiVersion\": \"v1\",\n  \"data\": {\n    \"k\": \"v\"\n  },\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\n    \"name\": \"la\",\n    \"namespace\": \"default\"\n  }\n}\n" {
		t.Errorf("json: %q", out)
	}
	// An object without the annotation named on the command line prints
	// nothing, as in kubectl.
	out, errOut, code = fs.run("", "apply", "view-last-applied", "cm/plain")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("no annotation: %d %q %q", code, out, errOut)
	}
	_, errOut, code = fs.run("", "apply", "view-last-applied", "cm/la", "-o", "wide")
	if code != 1 || errOut != "error: Unexpected -o output mode: wide, the flag 'output' must be one of yaml|json\nSee 'kctl apply view-last-applied -h' for help and examples\n" {
		t.Errorf("-o wide: %d %q", code, errOut)
	}
}
