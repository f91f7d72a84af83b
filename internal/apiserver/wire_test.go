package apiserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// raw sends one request with the admin client and returns status, headers
// and body.
func (ts *testServer) raw(t *testing.T, method, path string, hdr map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	hc, err := rest.HTTPClientFor(ts.admin)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestAggregatedDiscovery(t *testing.T) {
	ts := newTestServer(t)
	accept := "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
	code, h, body := ts.raw(t, "GET", "/apis", map[string]string{"Accept": accept}, "")
	if code != 200 || h.Get("Content-Type") != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" || h.Get("ETag") == "" {
		t.Fatalf("/apis: %d %v", code, h)
	}
	var list struct {
		APIVersion string
		Items      []struct {
			Metadata struct{ Name string }
			Versions []struct {
				Version   string
				Resources []struct {
					Resource     string
					Subresources []struct {
						Subresource  string
						ResponseKind struct{ Group, Version, Kind string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(body, &list); err != nil || list.APIVersion != "apidiscovery.k8s.io/v2" {
		t.Fatalf("decode: %v %s", err, list.APIVersion)
	}
	found := false
	for _, g := range list.Items {
		if g.Metadata.Name != "apps" {
			continue
		}
		for _, r := range g.Versions[0].Resources {
			for _, s := range r.Subresources {
				if r.Resource == "deployments" && s.Subresource == "scale" && s.ResponseKind.Group == "autoscaling" && s.ResponseKind.Kind == "Scale" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("deployments/scale → autoscaling/v1 Scale missing from aggregated discovery")
	}
	code, _, _ = ts.raw(t, "GET", "/apis", map[string]string{"Accept": accept, "If-None-Match": h.Get("ETag")}, "")
	if code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", code)
	}
	// kubectl 1.27-1.29 asks for v2beta1 only.
	_, h, _ = ts.raw(t, "GET", "/api", map[string]string{"Accept": "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"}, "")
	if !strings.Contains(h.Get("Content-Type"), "v=v2beta1") {
		t.Errorf("v2beta1 content type = %q", h.Get("Content-Type"))
	}
	// Legacy /api/v1 names pods/eviction with its group and version (drain).
	_, _, body = ts.raw(t, "GET", "/api/v1", nil, "")
	var rl metav1.APIResourceList
	if err := json.Unmarshal(body, &rl); err != nil {
		t.Fatal(err)
	}
	ok := false
	for _, r := range rl.APIResources {
		if r.Name == "pods/eviction" && r.Group == "policy" && r.Version == "v1" && r.Kind == "Eviction" {
			ok = true
		}
	}
	if !ok {
		t.Error("legacy discovery lacks pods/eviction with group policy, version v1")
	}
}

func TestTableAndPartialMetadata(t *testing.T) {
	ts := newTestServer(t)
	makeConfigMaps(t, clientset(t, ts.admin), "default", 2)
	tableAccept := "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
	code, _, body := ts.raw(t, "GET", "/api/v1/namespaces/default/configmaps?limit=500", map[string]string{"Accept": tableAccept}, "")
	var table metav1.Table
	if err := json.Unmarshal(body, &table); code != 200 || err != nil {
		t.Fatalf("table: %d %v %s", code, err, body)
	}
	if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" || table.ResourceVersion == "" || len(table.Rows) != 2 {
		t.Fatalf("table = %+v", table)
	}
	if table.ColumnDefinitions[0].Name != "Name" || table.ColumnDefinitions[0].Format != "name" || table.Rows[0].Cells[0] != "cm-00" {
		t.Errorf("first column/cell: %+v %v", table.ColumnDefinitions[0], table.Rows[0].Cells)
	}
	var pom metav1.PartialObjectMetadata
	if err := json.Unmarshal(table.Rows[0].Object.Raw, &pom); err != nil || pom.Kind != "PartialObjectMetadata" || pom.Namespace != "default" {
		t.Errorf("row object = %s", table.Rows[0].Object.Raw)
	}
	code, _, body = ts.raw(t, "GET", "/api/v1/namespaces/default/configmaps?includeObject=Bogus", map[string]string{"Accept": tableAccept}, "")
	if code != 400 || !strings.Contains(string(body), `unrecognized includeObject value: \"Bogus\"`) {
		t.Errorf("bad includeObject: %d %s", code, body)
	}
	_, _, body = ts.raw(t, "GET", "/api/v1/namespaces/default/configmaps", map[string]string{"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"}, "")
	var pl metav1.PartialObjectMetadataList
	if err := json.Unmarshal(body, &pl); err != nil || pl.Kind != "PartialObjectMetadataList" || len(pl.Items) != 2 {
		t.Errorf("partial list = %s", body)
	}
	code, h, _ := ts.raw(t, "GET", "/api/v1/namespaces/default/configmaps", map[string]string{"Accept": "application/yaml"}, "")
	if code != 200 || h.Get("Content-Type") != "application/yaml" {
		t.Errorf("yaml: %d %s", code, h.Get("Content-Type"))
	}
	code, _, body = ts.raw(t, "GET", "/api/v1/namespaces/default/configmaps", map[string]string{"Accept": "text/html"}, "")
	if code != http.StatusNotAcceptable || !strings.Contains(string(body), `"reason":"NotAcceptable"`) {
		t.Errorf("unacceptable: %d %s", code, body)
	}
}

func TestFieldValidationAndDryRun(t *testing.T) {
	ts := newTestServer(t)
	obj := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"},"bogus":1}`
	path := "/api/v1/namespaces/default/configmaps"
	code, _, body := ts.raw(t, "POST", path+"?fieldValidation=Strict", map[string]string{"Content-Type": "application/json"}, obj)
	if code != 400 || !strings.Contains(string(body), `ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\"`) {
		t.Errorf("strict: %d %s", code, body)
	}
	code, h, _ := ts.raw(t, "POST", path+"?fieldValidation=Warn&dryRun=All", map[string]string{"Content-Type": "application/json"}, obj)
	if code != 201 || h.Get("Warning") != `299 - "unknown field \"bogus\""` {
		t.Errorf("warn: %d %q", code, h.Values("Warning"))
	}
	// dryRun stored nothing.
	if code, _, _ := ts.raw(t, "GET", path+"/x", nil, ""); code != 404 {
		t.Errorf("dry-run object was stored: GET %d", code)
	}
	code, _, body = ts.raw(t, "POST", path+"?fieldValidation=Loose", map[string]string{"Content-Type": "application/json"}, obj)
	if code != 422 || !strings.Contains(string(body), `fieldValidation: Unsupported value: \"Loose\"`) {
		t.Errorf("bad directive: %d %s", code, body)
	}
	code, _, body = ts.raw(t, "POST", path, map[string]string{"Content-Type": "text/plain"}, obj)
	if code != 415 || !strings.Contains(string(body), "the body of the request was in an unknown format") {
		t.Errorf("bad content type: %d %s", code, body)
	}
	code, _, body = ts.raw(t, "POST", path, map[string]string{"Content-Type": "application/json"},
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`)
	if code != 422 || !strings.Contains(string(body), `ConfigMap \"Bad_Name\" is invalid`) {
		t.Errorf("bad name: %d %s", code, body)
	}
	code, _, body = ts.raw(t, "POST", path, map[string]string{"Content-Type": "application/json"},
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"}}`)
	if code != 400 || !strings.Contains(string(body), "the API version in the data (apps/v1) does not match the expected API version (v1)") {
		t.Errorf("wrong apiVersion: %d %s", code, body)
	}
	code, _, body = ts.raw(t, "POST", path, map[string]string{"Content-Type": "application/json"},
		`{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"a"}}`)
	if code != 400 || !strings.Contains(string(body), `ConfigMap in version \"v1\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" is registered for version \"apps/v1\"`) {
		t.Errorf("unknown kind in version: %d %s", code, body)
	}
}

func TestServiceAllocation(t *testing.T) {
	ts := newTestServer(t)
	svcs := clientset(t, ts.admin).CoreV1().Services("default")
	ctx := context.Background()
	mk := func(name string, spec corev1.ServiceSpec) (*corev1.Service, error) {
		if spec.Ports == nil {
			spec.Ports = []corev1.ServicePort{{Port: 80}}
		}
		return svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
	}
	a, err := mk("a", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort})
	if err != nil {
		t.Fatal(err)
	}
	if a.Spec.ClusterIP == "" || a.Spec.ClusterIP == "10.43.0.1" || a.Spec.ClusterIP == "10.43.0.10" || a.Spec.Ports[0].NodePort < 30000 {
		t.Fatalf("allocated %s port %d", a.Spec.ClusterIP, a.Spec.Ports[0].NodePort)
	}
	_, err = mk("b", corev1.ServiceSpec{ClusterIP: a.Spec.ClusterIP})
	if err == nil || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("duplicate IP: %v", err)
	}
	_, err = mk("c", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: a.Spec.Ports[0].NodePort}}})
	if err == nil || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Errorf("duplicate node port: %v", err)
	}
	_, err = mk("d", corev1.ServiceSpec{ClusterIP: "192.168.0.1"})
	if err == nil || !strings.Contains(err.Error(), "provided IP is not in the valid range") {
		t.Errorf("IP out of range: %v", err)
	}
	// The DNS address is reserved for whoever asks for it explicitly.
	dns, err := mk("kube-dns", corev1.ServiceSpec{ClusterIP: "10.43.0.10"})
	if err != nil || dns.Spec.ClusterIP != "10.43.0.10" {
		t.Fatalf("explicit DNS IP: %v", err)
	}
	// Deleting releases the allocations.
	if err := svcs.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mk("e", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: a.Spec.ClusterIP,
		Ports: []corev1.ServicePort{{Port: 80, NodePort: a.Spec.Ports[0].NodePort}}}); err != nil {
		t.Errorf("reuse after delete: %v", err)
	}
}

func TestHTTP2AndHTTP11AndYAMLBodies(t *testing.T) {
	ts := newTestServer(t)
	for _, proto := range []string{"h2", "http/1.1"} {
		cfg := rest.CopyConfig(ts.admin)
		if proto == "http/1.1" {
			cfg.NextProtos = []string{"http/1.1"}
		}
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(ts.url + "/api/v1/namespaces")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]int{"h2": 2, "http/1.1": 1}[proto]
		if resp.StatusCode != 200 || resp.ProtoMajor != want {
			t.Errorf("ALPN %s: %d over %s", proto, resp.StatusCode, resp.Proto)
		}
	}
	code, _, body := ts.raw(t, "POST", "/api/v1/namespaces/default/configmaps", map[string]string{"Content-Type": "application/yaml"},
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n")
	if code != 201 || !strings.Contains(string(body), `"name":"from-yaml"`) {
		t.Errorf("yaml body: %d %s", code, body)
	}
}
