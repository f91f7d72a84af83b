package openapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
	kubeproto "k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// The protobuf /openapi/v2 must say exactly what the JSON one says: both
// are decoded with kube-openapi (the protobuf through gnostic, as client-go
// receives it) and compared.
func TestV2ProtobufMatchesJSON(t *testing.T) {
	d := testDocs(t)
	raw, etag, err := d.V2JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(etag, `"`) || len(etag) != 130 {
		t.Errorf("ETag %q is not a quoted SHA-512", etag)
	}
	var fromJSON spec.Swagger
	if err := json.Unmarshal(raw, &fromJSON); err != nil {
		t.Fatalf("v2 JSON does not parse: %v", err)
	}
	pb, _, err := d.V2Protobuf()
	if err != nil {
		t.Fatal(err)
	}
	var doc openapi_v2.Document
	if err := proto.Unmarshal(pb, &doc); err != nil {
		t.Fatalf("v2 protobuf does not parse: %v", err)
	}
	var fromProto spec.Swagger
	if _, err := fromProto.FromGnostic(&doc); err != nil {
		t.Fatalf("v2 protobuf does not convert: %v", err)
	}
	a, _ := json.Marshal(&fromJSON)
	b, _ := json.Marshal(&fromProto)
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	if diff := firstDiff("", x, y); diff != "" {
		t.Errorf("protobuf and JSON documents differ at %s", diff)
	}
	if len(fromJSON.Definitions) < 500 || len(fromJSON.Paths.Paths) < 300 {
		t.Errorf("document too small: %d definitions, %d paths", len(fromJSON.Definitions), len(fromJSON.Paths.Paths))
	}
}

// firstDiff names the first place two decoded JSON values differ.
func firstDiff(path string, a, b any) string {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return path
		}
		for k := range a {
			if d := firstDiff(path+"/"+k, a[k], bm[k]); d != "" {
				return d
			}
		}
		for k := range bm {
			if _, ok := a[k]; !ok {
				return path + "/" + k + " (only in protobuf)"
			}
		}
		return ""
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return path
		}
		for i := range a {
			if d := firstDiff(fmt.Sprintf("%s[%d]", path, i), a[i], bl[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		return fmt.Sprintf("%s (%v != %v)", path, a, b)
	}
	return ""
}

// kubectl's client-side validation and v2 explain map kinds to models
// through kube-openapi's proto package; every served kind must be found.
func TestV2ModelsForEveryServedKind(t *testing.T) {
	d := testDocs(t)
	pb, _, err := d.V2Protobuf()
	if err != nil {
		t.Fatal(err)
	}
	var doc openapi_v2.Document
	if err := proto.Unmarshal(pb, &doc); err != nil {
		t.Fatal(err)
	}
	models, err := kubeproto.NewOpenAPIData(&doc)
	if err != nil {
		t.Fatalf("kube-openapi rejects the document: %v", err)
	}
	byGVK := map[schema.GroupVersionKind]string{}
	for _, name := range models.ListModels() {
		for _, gvk := range gvksOf(models.LookupModel(name).GetExtensions()) {
			byGVK[gvk] = name
		}
	}
	for _, res := range registry.New().All() {
		if _, ok := byGVK[res.GroupVersionKind()]; !ok {
			t.Errorf("no v2 model for %s", res.GroupVersionKind())
		}
	}
	pod := models.LookupModel("io.k8s.api.core.v1.Pod").(*kubeproto.Kind)
	spec := pod.Fields["spec"].(kubeproto.Reference).SubSchema().(*kubeproto.Kind)
	containers := spec.Fields["containers"].(*kubeproto.Array)
	if got := containers.GetExtensions()["x-kubernetes-patch-merge-key"]; got != "name" {
		t.Errorf("spec.containers patch merge key = %v", got)
	}
	if !slices.Contains(spec.RequiredFields, "containers") {
		t.Errorf("spec.containers not required: %v", spec.RequiredFields)
	}
}

func gvksOf(ext map[string]any) []schema.GroupVersionKind {
	list, _ := ext["x-kubernetes-group-version-kind"].([]any)
	var out []schema.GroupVersionKind
	for _, item := range list {
		m, _ := item.(map[any]any)
		if m == nil {
			continue
		}
		out = append(out, schema.GroupVersionKind{Group: fmt.Sprint(m["group"]), Version: fmt.Sprint(m["version"]), Kind: fmt.Sprint(m["kind"])})
	}
	return out
}

// Every v3 document parses as OpenAPI 3.0 and every reference in it
// resolves inside it.
func TestV3DocumentsParseAndResolve(t *testing.T) {
	d := testDocs(t)
	keys, err := d.V3Keys()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "apis/batch/v1", "version"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no v3 document %q in %v", want, keys)
		}
	}
	for _, key := range keys {
		raw, _, _, err := d.V3(key)
		if err != nil {
			t.Fatal(err)
		}
		var doc spec3.OpenAPI
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Errorf("%s: not OpenAPI 3: %v", key, err)
			continue
		}
		if doc.Version != "3.0.0" || doc.Paths == nil || len(doc.Paths.Paths) == 0 {
			t.Errorf("%s: version %q, %v paths", key, doc.Version, doc.Paths)
		}
		var plain any
		_ = json.Unmarshal(raw, &plain)
		schemas := obj(plain, "components", "schemas")
		walkRefs(plain, func(ref string) {
			name, ok := strings.CutPrefix(ref, "#/components/schemas/")
			if !ok || schemas[name] == nil {
				t.Errorf("%s: dangling reference %s", key, ref)
			}
		})
	}
}

func walkRefs(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				fn(s)
			}
			walkRefs(e, fn)
		}
	case []any:
		for _, e := range v {
			walkRefs(e, fn)
		}
	}
}

// Each served resource is described in its group/version's v3 document:
// a schema carrying its GVK, and operations for its verbs whose PATCH lists
// fieldValidation (what kubectl's --validate detection looks for).
func TestV3DescribesEveryServedResource(t *testing.T) {
	d := testDocs(t)
	docs := map[string]map[string]any{}
	for _, res := range registry.New().All() {
		key := v3Key(res.GroupVersion)
		if docs[key] == nil {
			docs[key] = v3Doc(t, d, key)
		}
		doc := docs[key]
		gvk := res.GroupVersionKind()
		if schemaWithGVK(doc, gvk) == nil {
			t.Errorf("%s: no schema lists %s", key, gvk)
		}
		ops := opsFor(doc, gvk)
		for verb, action := range map[string]string{"get": "get", "list": "list", "create": "post", "update": "put",
			"patch": "patch", "delete": "delete", "deletecollection": "deletecollection", "watch": "watch"} {
			if res.HasVerb(verb) && ops[action] == nil {
				t.Errorf("%s: %s has verb %s but no %s operation", key, res.Resource, verb, action)
			}
		}
		if patch := ops["patch"]; patch != nil && !hasQueryParam(patch, "fieldValidation") {
			t.Errorf("%s: PATCH of %s lacks the fieldValidation parameter", key, res.Resource)
		}
	}
}

// schemaWithGVK finds the component schema whose
// x-kubernetes-group-version-kind lists gvk.
func schemaWithGVK(doc map[string]any, gvk schema.GroupVersionKind) map[string]any {
	for _, s := range obj(doc, "components", "schemas") {
		list, _ := s.(map[string]any)["x-kubernetes-group-version-kind"].([]any)
		for _, item := range list {
			m := item.(map[string]any)
			if m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind {
				return s.(map[string]any)
			}
		}
	}
	return nil
}

// opsFor returns, by x-kubernetes-action, one operation for gvk (the last
// found; actions of the main resource are unique per path shape).
func opsFor(doc map[string]any, gvk schema.GroupVersionKind) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, item := range obj(doc, "paths") {
		for _, op := range item.(map[string]any) {
			o, ok := op.(map[string]any)
			if !ok {
				continue
			}
			g := obj(o, "x-kubernetes-group-version-kind")
			if g["group"] == gvk.Group && g["version"] == gvk.Version && g["kind"] == gvk.Kind {
				out[o["x-kubernetes-action"].(string)] = o
			}
		}
	}
	return out
}

func hasQueryParam(op map[string]any, name string) bool {
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		if m := p.(map[string]any); m["name"] == name && m["in"] == "query" {
			return true
		}
	}
	return false
}

// Extensions and formats of well-known fields, as upstream has them.
func TestWellKnownFields(t *testing.T) {
	d := testDocs(t)
	core, apps := v3Doc(t, d, "api/v1"), v3Doc(t, d, "apis/apps/v1")
	schemas := obj(core, "components", "schemas")
	prop := func(def, field string) map[string]any { return obj(schemas, def, "properties", field) }
	const v1, meta = "io.k8s.api.core.v1.", "io.k8s.apimachinery.pkg.apis.meta.v1."
	cases := []struct {
		def, field string
		want       map[string]any
	}{
		{v1 + "PodSpec", "containers", map[string]any{"type": "array", "x-kubernetes-list-type": "map",
			"x-kubernetes-list-map-keys": []any{"name"}, "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}},
		{v1 + "PodSpec", "volumes", map[string]any{"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys",
			"x-kubernetes-list-type": "map"}},
		{v1 + "Container", "ports", map[string]any{"x-kubernetes-list-map-keys": []any{"containerPort", "protocol"},
			"x-kubernetes-patch-merge-key": "containerPort"}},
		{v1 + "ContainerPort", "protocol", map[string]any{"type": "string", "default": "TCP"}},
		{v1 + "PodSpec", "nodeSelector", map[string]any{"type": "object", "x-kubernetes-map-type": "atomic"}},
		{v1 + "PodSpec", "terminationGracePeriodSeconds", map[string]any{"type": "integer", "format": "int64"}},
		{v1 + "Container", "imagePullPolicy", map[string]any{"enum": []any{"Always", "IfNotPresent", "Never"}}},
		{v1 + "ContainerPort", "containerPort", map[string]any{"type": "integer", "format": "int32"}},
		{v1 + "Secret", "data", map[string]any{"additionalProperties": map[string]any{"type": "string", "format": "byte"}}},
		{meta + "ObjectMeta", "finalizers", map[string]any{"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"}},
		{meta + "ObjectMeta", "ownerReferences", map[string]any{"x-kubernetes-patch-merge-key": "uid", "x-kubernetes-list-map-keys": []any{"uid"}}},
		{v1 + "PersistentVolumeSpec", "claimRef", map[string]any{"x-kubernetes-map-type": "granular"}},
		{v1 + "Pod", "metadata", map[string]any{"default": map[string]any{},
			"allOf": []any{map[string]any{"$ref": "#/components/schemas/" + meta + "ObjectMeta"}}}},
		{v1 + "PodSpec", "containers", map[string]any{"description": corev1.PodSpec{}.SwaggerDoc()["containers"]}},
	}
	for _, c := range cases {
		got := prop(c.def, c.field)
		for k, want := range c.want {
			if fmt.Sprint(got[k]) != fmt.Sprint(want) {
				t.Errorf("%s.%s %s = %v, want %v", c.def, c.field, k, got[k], want)
			}
		}
	}
	for name, want := range map[string]map[string]any{
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"format": "int-or-string",
			"oneOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}},
		"io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}},
		meta + "Time":                   {"type": "string", "format": "date-time"},
		v1 + "LocalObjectReference":     {"x-kubernetes-map-type": "atomic"},
		"io.k8s.api.apps.v1.Deployment": {"x-kubernetes-group-version-kind": []any{map[string]any{"group": "apps", "kind": "Deployment", "version": "v1"}}},
	} {
		def := obj(apps, "components", "schemas", name)
		if def == nil {
			def = obj(schemas, name)
		}
		for k, v := range want {
			if fmt.Sprint(def[k]) != fmt.Sprint(v) {
				t.Errorf("%s %s = %v, want %v", name, k, def[k], v)
			}
		}
	}
	if req := obj(schemas, v1+"Container")["required"]; fmt.Sprint(req) != "[name]" {
		t.Errorf("Container required = %v", req)
	}
}

// Building twice gives the same bytes (hashes are stable across restarts,
// so clients' caches stay valid).
func TestDocumentsAreDeterministic(t *testing.T) {
	a, err := New(Config{Resources: registry.New().Resources(schema.GroupVersion{Group: "apps", Version: "v1"})})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Config{Resources: registry.New().Resources(schema.GroupVersion{Group: "apps", Version: "v1"})})
	for _, d := range []*Docs{a, b} {
		if _, err := d.V3Index(); err != nil {
			t.Fatal(err)
		}
	}
	_, ha, _, _ := a.V3("apis/apps/v1")
	_, hb, _, _ := b.V3("apis/apps/v1")
	ja, ea, _ := a.V2JSON()
	jb, eb, _ := b.V2JSON()
	if ha == "" || ha != hb || ea != eb || string(ja) != string(jb) {
		t.Errorf("two builds differ: v3 %s vs %s, v2 %s vs %s", ha, hb, ea, eb)
	}
}
