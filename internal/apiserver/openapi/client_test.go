package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	kubeproto "k8s.io/kube-openapi/pkg/util/proto"
	"sigs.k8s.io/yaml"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// serve puts the documents behind an HTTP server, as the API server mounts
// them, and returns a client configuration for it.
func serve(t *testing.T, d *Docs) *rest.Config {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/openapi/", d.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

// client-go's discovery client asks for /openapi/v2 in protobuf only and
// its OpenAPI v3 client walks the index: both work against the documents.
func TestClientGoFetchesDocuments(t *testing.T) {
	cfg := serve(t, testDocs(t))
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema (protobuf v2): %v", err)
	}
	if len(doc.GetDefinitions().GetAdditionalProperties()) < 500 {
		t.Errorf("v2 document has %d definitions", len(doc.GetDefinitions().GetAdditionalProperties()))
	}
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		t.Fatalf("OpenAPIV3 paths: %v", err)
	}
	for _, key := range []string{"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/rbac.authorization.k8s.io/v1"} {
		gv, ok := paths[key]
		if !ok {
			t.Errorf("index lacks %s", key)
			continue
		}
		if _, err := gv.Schema("application/json"); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	gvs, err := openapi3.NewRoot(dc.OpenAPIV3()).GroupVersions()
	if err != nil || !slices.Contains(gvs, schema.GroupVersion{Group: "apps", Version: "v1"}) {
		t.Errorf("openapi3 root group versions %v: %v", gvs, err)
	}
}

// kubectl apply/create -f decide whether the server validates fields
// itself (cli-runtime's query-param verifiers, mirrored here because that
// package drags kustomize into go.mod): the first PATCH operation carrying
// the object's GVK must list a fieldValidation query parameter, in the v3
// document of its group/version and in the v2 document.
func TestKubectlFieldValidationDetection(t *testing.T) {
	cfg := serve(t, testDocs(t))
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	root := openapi3.NewRoot(dc.OpenAPIV3())
	v2doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	shared := map[string]*openapi_v2.NamedParameter{}
	for _, p := range v2doc.GetParameters().GetAdditionalProperties() {
		shared["#/parameters/"+p.GetName()] = p
	}
	specs := map[schema.GroupVersion]*spec3.OpenAPI{}
	for _, res := range registry.New().All() {
		if !res.HasVerb("patch") {
			continue
		}
		gvk := res.GroupVersionKind()
		if specs[gvk.GroupVersion()] == nil {
			if specs[gvk.GroupVersion()], err = root.GVSpec(gvk.GroupVersion()); err != nil {
				t.Fatal(err)
			}
		}
		if err := fieldValidationV3(specs[gvk.GroupVersion()], gvk); err != nil {
			t.Errorf("v3: %v", err)
		}
		if err := fieldValidationV2(v2doc, shared, gvk); err != nil {
			t.Errorf("v2: %v", err)
		}
	}
}

func fieldValidationV3(doc *spec3.OpenAPI, gvk schema.GroupVersionKind) error {
	for _, path := range doc.Paths.Paths {
		op := path.Patch
		if op == nil {
			continue
		}
		var g map[string]string
		if op.Extensions.GetObject("x-kubernetes-group-version-kind", &g) != nil ||
			g["group"] != gvk.Group || g["version"] != gvk.Version || g["kind"] != gvk.Kind {
			continue
		}
		for _, p := range op.Parameters {
			if p.Name == "fieldValidation" && p.In == "query" {
				return nil
			}
		}
		return fmt.Errorf("%s: PATCH without fieldValidation", gvk)
	}
	return fmt.Errorf("Path not found for GVK (%s) in OpenAPI V3 doc", gvk)
}

func fieldValidationV2(doc *openapi_v2.Document, shared map[string]*openapi_v2.NamedParameter, gvk schema.GroupVersionKind) error {
	for _, path := range doc.GetPaths().GetPath() {
		op := path.GetValue().GetPatch()
		found := false
		for _, ext := range op.GetVendorExtension() {
			var g map[string]string
			if ext.GetName() == "x-kubernetes-group-version-kind" && yaml.Unmarshal([]byte(ext.GetValue().GetYaml()), &g) == nil {
				found = g["group"] == gvk.Group && g["version"] == gvk.Version && g["kind"] == gvk.Kind
			}
		}
		if !found {
			continue
		}
		for _, p := range op.GetParameters() {
			q := p.GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema()
			if ref := p.GetJsonReference().GetXRef(); ref != "" && shared[ref] != nil {
				q = shared[ref].GetValue().GetNonBodyParameter().GetQueryParameterSubSchema()
			}
			if q.GetName() == "fieldValidation" {
				return nil
			}
		}
		return fmt.Errorf("%s: PATCH without fieldValidation", gvk)
	}
	return fmt.Errorf("couldn't find GVK %s in openapi", gvk)
}

// kubectl explain pods.spec.containers, the way kubectl's v3 explain finds
// it: resource path → GVK → schema → fields.
func TestExplainPodSpecContainers(t *testing.T) {
	cfg := serve(t, testDocs(t))
	client := discovery.NewDiscoveryClientForConfigOrDie(cfg).OpenAPIV3()
	doc := fetchGV(t, client, "api/v1")
	gvk := explainGVK(doc, "/api/v1", "pods")
	if gvk == nil || gvk["kind"] != "Pod" || gvk["version"] != "v1" {
		t.Fatalf("GVK of pods = %v", gvk)
	}
	pod := schemaWithGVK(doc, schema.GroupVersionKind{Version: "v1", Kind: "Pod"})
	field, target := explainField(t, doc, pod, "spec", "containers")
	if field["description"] != (corev1.PodSpec{}).SwaggerDoc()["containers"] || field["type"] != "array" {
		t.Errorf("spec.containers = %v", field)
	}
	if got := refName(field["items"]); got != "io.k8s.api.core.v1.Container" {
		t.Errorf("spec.containers items are %q", got)
	}
	props := obj(target, "properties")
	for _, f := range []string{"name", "image", "ports", "env", "resources", "volumeMounts", "livenessProbe"} {
		if props[f] == nil {
			t.Errorf("Container has no field %q", f)
		}
	}
	if obj(props, "image")["description"] != (corev1.Container{}).SwaggerDoc()["image"] {
		t.Errorf("image description = %v", obj(props, "image")["description"])
	}
	if req, _ := target["required"].([]any); !slices.Contains(req, any("name")) {
		t.Errorf("Container.name is not marked required: %v", target["required"])
	}
	if target["description"] != (corev1.Container{}).SwaggerDoc()[""] {
		t.Errorf("Container description = %v", target["description"])
	}
}

func fetchGV(t *testing.T, client openapi.Client, key string) map[string]any {
	t.Helper()
	paths, err := client.Paths()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := paths[key].Schema("application/json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// explainGVK is kubectl explain's search: the GVK of the first get, post,
// put, patch or delete operation on the resource's list or item paths.
func explainGVK(doc map[string]any, prefix, resource string) map[string]any {
	for _, p := range []string{prefix + "/" + resource, prefix + "/" + resource + "/{name}",
		prefix + "/namespaces/{namespace}/" + resource, prefix + "/namespaces/{namespace}/" + resource + "/{name}"} {
		for _, m := range []string{"get", "post", "put", "patch", "delete"} {
			if g := obj(doc, "paths", p, m, "x-kubernetes-group-version-kind"); g != nil {
				return g
			}
		}
	}
	return nil
}

// explainField follows a field path through properties, resolving $ref and
// allOf as explain does; it returns the last field and the schema it
// refers to (for arrays, the items').
func explainField(t *testing.T, doc, s map[string]any, path ...string) (field, target map[string]any) {
	t.Helper()
	target = s
	for _, name := range path {
		field = obj(target, "properties", name)
		if field == nil {
			t.Fatalf("field %q does not exist", name)
		}
		next := field
		if items := obj(field, "items"); items != nil {
			next = items
		}
		target = obj(doc, "components", "schemas", refName(next))
		if target == nil {
			target = next
		}
	}
	return field, target
}

// refName is the schema a $ref or allOf[0].$ref points at.
func refName(v any) string {
	m, _ := v.(map[string]any)
	ref, _ := m["$ref"].(string)
	if all, ok := m["allOf"].([]any); ok && len(all) > 0 {
		ref, _ = all[0].(map[string]any)["$ref"].(string)
	}
	return strings.TrimPrefix(ref, "#/components/schemas/")
}

// Client-side kubectl apply builds its strategic merge patch from the
// served schemas (v3 since kubectl 1.29, v2 before): the patch must be the
// one the compiled-in struct tags give — lists merged by key, not replaced.
func TestClientSideApplyPatchFromOpenAPI(t *testing.T) {
	cfg := serve(t, testDocs(t))
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	original, modified, current := applyFixtures()
	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromStruct, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(want), "$setElementOrder/containers") {
		t.Fatalf("fixture does not exercise list merging: %s", want)
	}

	gvSpec, err := openapi3.NewRoot(dc.OpenAPIV3()).GVSpec(schema.GroupVersion{Group: "apps", Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	var v3meta strategicpatch.LookupPatchMeta
	for _, s := range gvSpec.Components.Schemas {
		var list []map[string]string
		if s.Extensions.GetObject("x-kubernetes-group-version-kind", &list) == nil && len(list) == 1 && list[0]["kind"] == "Deployment" {
			v3meta = strategicpatch.PatchMetaFromOpenAPIV3{Schema: s, SchemaList: gvSpec.Components.Schemas}
		}
	}
	if v3meta == nil {
		t.Fatal("no Deployment schema in apps/v1")
	}
	supportsSMP := false
	for _, path := range gvSpec.Paths.Paths {
		if p := path.Patch; p != nil && p.RequestBody != nil && hasGVKExtensionV3Deployment(p.Extensions) {
			_, supportsSMP = p.RequestBody.Content["application/strategic-merge-patch+json"]
		}
	}
	if !supportsSMP {
		t.Error("Deployment PATCH does not offer strategic merge patch")
	}
	got, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, v3meta, false)
	if err != nil {
		t.Fatalf("v3 patch: %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("patch from OpenAPI v3:\n%s\nfrom struct tags:\n%s", got, want)
	}

	v2doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	models, err := kubeproto.NewOpenAPIData(v2doc)
	if err != nil {
		t.Fatal(err)
	}
	v2meta := strategicpatch.NewPatchMetaFromOpenAPI(models.LookupModel("io.k8s.api.apps.v1.Deployment"))
	got, err = strategicpatch.CreateThreeWayMergePatch(original, modified, current, v2meta, false)
	if err != nil {
		t.Fatalf("v2 patch: %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("patch from OpenAPI v2:\n%s\nfrom struct tags:\n%s", got, want)
	}
}

func hasGVKExtensionV3Deployment(ext map[string]any) bool {
	g, _ := ext["x-kubernetes-group-version-kind"].(map[string]any)
	return g["group"] == "apps" && g["kind"] == "Deployment"
}

// applyFixtures are a last-applied, a new and a live Deployment: the user
// changes one container's image and adds a container; the live object has
// a container someone else added and finalizers.
func applyFixtures() (original, modified, current []byte) {
	dep := func(containers string, extra string) []byte {
		return []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"` + extra + `},` +
			`"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},` +
			`"spec":{"containers":[` + containers + `],"volumes":[{"name":"data","emptyDir":{}}]}}}}`)
	}
	original = dep(`{"name":"web","image":"nginx:1"}`, "")
	modified = dep(`{"name":"web","image":"nginx:2"},{"name":"log","image":"busybox"}`, "")
	current = dep(`{"name":"web","image":"nginx:1","imagePullPolicy":"IfNotPresent"},{"name":"mesh","image":"proxy"}`,
		`,"finalizers":["example.com/keep"]`)
	return original, modified, current
}
