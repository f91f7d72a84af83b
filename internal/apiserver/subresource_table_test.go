package apiserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubectlTableAccept is what kubectl get sends for human-readable output.
const kubectlTableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

func getTable(t *testing.T, ts *testServer, path string) metav1.Table {
	t.Helper()
	code, h, body := ts.raw(t, "GET", path, map[string]string{"Accept": kubectlTableAccept}, "")
	var table metav1.Table
	if err := json.Unmarshal(body, &table); code != 200 || err != nil {
		t.Fatalf("GET %s: %d %v %s", path, code, err, body)
	}
	if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" || h.Get("Content-Type") != mediaJSON {
		t.Fatalf("GET %s: %s %s, Content-Type %q", path, table.APIVersion, table.Kind, h.Get("Content-Type"))
	}
	return table
}

func columnNames(t metav1.Table) string {
	var names []string
	for _, c := range t.ColumnDefinitions {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// kubectl get --subresource=status|scale asks for a Table as a plain get
// does; upstream answers status with the parent's columns and scale with
// the Scale's own (NAME, DESIRED, AVAILABLE, AGE). A single object's Table
// carries the object's resourceVersion.
func TestSubresourceTables(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	d, err := cs.AppsV1().Deployments("default").Create(ctx, testDeployment("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := "/apis/apps/v1/namespaces/default/deployments/web"

	main := getTable(t, ts, base)
	status := getTable(t, ts, base+"/status")
	if got, want := columnNames(status), columnNames(main); got != want || !strings.HasPrefix(got, "Name,Ready,Up-to-date,Available,Age") {
		t.Errorf("status columns %q, want the deployment's %q", got, want)
	}
	if len(status.Rows) != 1 || status.Rows[0].Cells[0] != "web" || status.ResourceVersion != d.ResourceVersion || main.ResourceVersion != d.ResourceVersion {
		t.Errorf("status table: rv %q (main %q), want %q; rows %+v", status.ResourceVersion, main.ResourceVersion, d.ResourceVersion, status.Rows)
	}
	var pom metav1.PartialObjectMetadata
	if err := json.Unmarshal(status.Rows[0].Object.Raw, &pom); err != nil || pom.Kind != "PartialObjectMetadata" || pom.Name != "web" || pom.Namespace != "default" {
		t.Errorf("status row object = %s", status.Rows[0].Object.Raw)
	}

	scale := getTable(t, ts, base+"/scale")
	if got := columnNames(scale); got != "Name,Desired,Available,Age" {
		t.Errorf("scale columns %q", got)
	}
	if f := scale.ColumnDefinitions[0].Format; f != "" {
		t.Errorf("scale Name column format %q, upstream has none", f)
	}
	if scale.ColumnDefinitions[1].Type != "integer" || scale.ColumnDefinitions[2].Type != "integer" {
		t.Errorf("scale column types: %+v", scale.ColumnDefinitions)
	}
	if len(scale.Rows) != 1 || scale.ResourceVersion != d.ResourceVersion {
		t.Fatalf("scale table: rv %q want %q, rows %+v", scale.ResourceVersion, d.ResourceVersion, scale.Rows)
	}
	cells := scale.Rows[0].Cells
	if cells[0] != "web" || cells[1] != float64(3) || cells[2] != float64(0) || cells[3] == "" {
		t.Errorf("scale cells = %#v, want web, 3 desired, 0 available, an age", cells)
	}
	if err := json.Unmarshal(scale.Rows[0].Object.Raw, &pom); err != nil || pom.Kind != "PartialObjectMetadata" || pom.Name != "web" || pom.UID != d.UID {
		t.Errorf("scale row object = %s", scale.Rows[0].Object.Raw)
	}

	// includeObject=Object carries the Scale itself, None nothing, and a
	// bad value is refused as on any Table.
	withObject := getTable(t, ts, base+"/scale?includeObject=Object")
	var s autoscalingv1.Scale
	if err := json.Unmarshal(withObject.Rows[0].Object.Raw, &s); err != nil || s.Kind != "Scale" || s.Spec.Replicas != 3 {
		t.Errorf("scale row with includeObject=Object = %s", withObject.Rows[0].Object.Raw)
	}
	if none := getTable(t, ts, base+"/scale?includeObject=None"); len(none.Rows[0].Object.Raw) != 0 {
		t.Errorf("scale row with includeObject=None = %s", none.Rows[0].Object.Raw)
	}
	code, _, body := ts.raw(t, "GET", base+"/scale?includeObject=Bogus", map[string]string{"Accept": kubectlTableAccept}, "")
	if code != 400 || !strings.Contains(string(body), `unrecognized includeObject value: \"Bogus\"`) {
		t.Errorf("bad includeObject: %d %s", code, body)
	}

	// Partial metadata, and plain JSON as before.
	_, _, body = ts.raw(t, "GET", base+"/scale", map[string]string{"Accept": "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"}, "")
	if err := json.Unmarshal(body, &pom); err != nil || pom.Kind != "PartialObjectMetadata" || pom.Name != "web" {
		t.Errorf("scale as partial metadata = %s", body)
	}
	_, _, body = ts.raw(t, "GET", base+"/scale", map[string]string{"Accept": "application/json"}, "")
	if err := json.Unmarshal(body, &s); err != nil || s.Kind != "Scale" || s.Spec.Replicas != 3 || s.Status.Selector != "app=web" {
		t.Errorf("scale as JSON = %s", body)
	}
	// Writes answer with the object, whatever the Accept.
	code, _, body = ts.raw(t, "PATCH", base+"/scale", map[string]string{"Accept": kubectlTableAccept, "Content-Type": "application/merge-patch+json"}, `{"spec":{"replicas":5}}`)
	if err := json.Unmarshal(body, &s); code != 200 || err != nil || s.Kind != "Scale" || s.Spec.Replicas != 5 {
		t.Errorf("scale patch with a Table Accept: %d %s", code, body)
	}

	// A pod's status prints as the pod.
	if _, err := cs.CoreV1().Pods("default").Create(ctx, testPod("p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := getTable(t, ts, "/api/v1/namespaces/default/pods/p/status")
	if got := columnNames(pod); !strings.HasPrefix(got, "Name,Ready,Status,Restarts,Age") || pod.Rows[0].Cells[0] != "p" || pod.Rows[0].Cells[2] != "Pending" {
		t.Errorf("pod status table: %q %v", got, pod.Rows)
	}
}
