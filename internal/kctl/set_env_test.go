package kctl

import (
	"bytes"
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func envDeployment() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"initContainers": []any{map[string]any{"name": "init"}},
			"containers": []any{map[string]any{"name": "app", "env": []any{
				map[string]any{"name": "A", "value": "1"},
				map[string]any{"name": "F", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}}},
			}}},
		}}}}}
}

// --list prints containers, then init containers, with the changes
// applied: values as KEY=VALUE, references as comments.
func TestListEnv(t *testing.T) {
	vars := []map[string]any{
		{"name": "A", "value": "2"},
		{"name": "APP_PORT", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "cm", "key": "port"}}},
	}
	var out bytes.Buffer
	if err := listEnv(&out, envDeployment(), nil, vars, []string{"F"}); err != nil {
		t.Fatal(err)
	}
	want := "# Deployment web, container app\nA=2\n# APP_PORT from configmap cm, key port\n" +
		"# Deployment web, container init\nA=2\n# APP_PORT from configmap cm, key port\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// Without --overwrite a changed value is refused; the same value is not a
// change.
func TestEnvEditOverwrite(t *testing.T) {
	c := map[string]any{"name": "app", "env": []any{map[string]any{"name": "A", "value": "1"}}}
	changed, err := envEdit([]map[string]any{{"name": "A", "value": "1"}}, nil, false)(c)
	if err != nil || changed {
		t.Errorf("same value: changed %v, err %v", changed, err)
	}
	_, err = envEdit([]map[string]any{{"name": "A", "value": "2"}}, nil, false)(c)
	var ow *overwriteError
	if !errors.As(err, &ow) || err.Error() != "'A' already has a value (1), and --overwrite is false" {
		t.Errorf("changed value without --overwrite: %v", err)
	}
	changed, err = envEdit([]map[string]any{{"name": "B", "value": "3"}}, []string{"A"}, true)(c)
	env := c["env"].([]any)
	if err != nil || !changed || len(env) != 1 || env[0].(map[string]any)["name"] != "B" {
		t.Errorf("set B, remove A: changed %v, err %v, env %v", changed, err, env)
	}
}
