package kctl

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

func mustU(t *testing.T, js string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLastAppliedJSONLikeKubectl(t *testing.T) {
	u := mustU(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"default"},"data":{"a":"b"}}`)
	got, err := lastAppliedJSON(u)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"v1","data":{"a":"b"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"x","namespace":"default"}}` + "\n"
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestThreeWayStrategicMerge: a field dropped from the manifest is deleted,
// fields only the server set are kept, containers merge by name.
func TestThreeWayStrategicMerge(t *testing.T) {
	original := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2,"minReadySeconds":5,
		"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.25"}]}}}}`
	modified := mustU(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3,
		"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}}}`)
	current := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","uid":"1"},"spec":{"replicas":2,"minReadySeconds":5,
		"progressDeadlineSeconds":600,"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.25","imagePullPolicy":"IfNotPresent"},{"name":"sidecar","image":"envoy"}]}}}}`
	modJSON, _ := modified.MarshalJSON()
	patch, pt, err := threeWayPatch(newScheme(), modified, []byte(original), modJSON, []byte(current), true)
	if err != nil {
		t.Fatal(err)
	}
	if pt != types.StrategicMergePatchType {
		t.Fatalf("patch type %s", pt)
	}
	merged, err := applyPatchLocally(newScheme(), mustU(t, current), []byte(current), patch, pt)
	if err != nil {
		t.Fatal(err)
	}
	spec := merged.Object["spec"].(map[string]any)
	if spec["replicas"] != int64(3) || spec["minReadySeconds"] != nil || spec["progressDeadlineSeconds"] != int64(600) {
		t.Errorf("spec after apply: %v (patch %s)", spec, patch)
	}
	cs, _, _ := unstructured.NestedSlice(merged.Object, "spec", "template", "spec", "containers")
	b, _ := json.Marshal(cs)
	if !strings.Contains(string(b), `"image":"nginx:1.27"`) || !strings.Contains(string(b), `"imagePullPolicy":"IfNotPresent"`) || !strings.Contains(string(b), `"sidecar"`) {
		t.Errorf("containers after apply: %s (patch %s)", b, patch)
	}
}

func TestThreeWayMergeForUnknownKinds(t *testing.T) {
	original := `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":1,"color":"red"}}`
	modified := mustU(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":2}}`)
	current := `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":1,"color":"red","status":"x"}}`
	modJSON, _ := modified.MarshalJSON()
	patch, pt, err := threeWayPatch(newScheme(), modified, []byte(original), modJSON, []byte(current), true)
	if err != nil {
		t.Fatal(err)
	}
	if pt != types.MergePatchType || string(patch) != `{"spec":{"color":null,"size":2}}` {
		t.Errorf("patch %s %s", pt, patch)
	}
	same, _, _ := threeWayPatch(newScheme(), modified, modJSON, modJSON, modJSON, true)
	if string(same) != "{}" {
		t.Errorf("unchanged manifest patch = %s, want {}", same)
	}
}

func TestApplyCreatesThenReportsUnchanged(t *testing.T) {
	fs := podServer(t)
	manifest := "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  ports:\n  - port: 80\n"
	out, errOut, code := fs.run(manifest, "apply", "-f", "-")
	if out != "service/api created\n" || code != 0 {
		t.Fatalf("first apply: %q %q %d", out, errOut, code)
	}
	ann := fs.objs["services/default/api"].GetAnnotations()[lastAppliedAnnotation]
	if !strings.HasPrefix(ann, `{"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"name":"api","namespace":"default"}`) {
		t.Errorf("last-applied annotation %q", ann)
	}
}
