package openapi

import (
	"reflect"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// param is one operation parameter.
type param struct {
	name        string
	in          string // path, query or body
	description string
	typ         string // string, integer, boolean (path and query)
	required    bool
	schemaRef   string // body: the definition the body is

	key    string // cached paramKey
	hasKey bool
}

// Media types of operations, as upstream lists them.
var (
	mediaObjects = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	mediaLists   = append(append([]string(nil), mediaObjects...),
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
	mediaPatches = []string{"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	mediaAny  = []string{"*/*"}
	mediaLogs = []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
)

// Definitions every document refers to.
const (
	defStatus        = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
	defDeleteOptions = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
	defPatch         = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
	defWatchEvent    = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"
)

// queryParams are the query parameters an options struct (ListOptions,
// CreateOptions, PodLogOptions, …) accepts: its scalar and string-list
// fields, described by its SwaggerDoc, as upstream's route builder lists
// them. Fields named in skip are left out.
func queryParams(options any, skip ...string) []*param {
	t := reflect.TypeOf(options)
	docs := docsOf(t)
	var out []*param
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || slices.Contains(skip, name) {
			continue
		}
		typ := queryType(f.Type)
		if typ == "" {
			continue // structs (preconditions, sinceTime) are not query parameters
		}
		out = append(out, &param{name: name, in: "query", description: docs[name], typ: typ})
	}
	return out
}

// queryType is the Swagger type of a query parameter of Go type t; "" if t
// cannot be one.
func queryType(t reflect.Type) string {
	t = derefType(t)
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.String:
			return "string"
		case reflect.Int, reflect.Int32, reflect.Int64:
			return "integer"
		}
	}
	return ""
}

// stdParams are the parameters of the standard verbs, made once per
// document build and shared by every operation (parameters are never
// modified once made).
type stdParams struct {
	list, create, update, patch, delete, deleteCollection []*param
	namespace, pretty                                     *param
}

func newStdParams() stdParams {
	return stdParams{
		list:   queryParams(metav1.ListOptions{}),
		create: queryParams(metav1.CreateOptions{}),
		update: queryParams(metav1.UpdateOptions{}),
		patch:  queryParams(metav1.PatchOptions{}),
		delete: queryParams(metav1.DeleteOptions{}),
		// DeleteOptions plus the list options that select what to delete.
		deleteCollection: append(queryParams(metav1.DeleteOptions{}),
			queryParams(metav1.ListOptions{}, "watch", "allowWatchBookmarks")...),
		namespace: namespacePathParam(),
		pretty:    prettyParam(),
	}
}

// join concatenates parameter lists into a new slice.
func join(lists ...[]*param) []*param {
	var out []*param
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func bodyParam(ref string, required bool) *param {
	return &param{name: "body", in: "body", schemaRef: ref, required: required}
}

func namePathParam(kind string) *param {
	return &param{name: "name", in: "path", description: "name of the " + kind, typ: "string", required: true}
}

func namespacePathParam() *param {
	return &param{name: "namespace", in: "path", description: "object name and auth scope, such as for teams and projects",
		typ: "string", required: true}
}

func prettyParam() *param {
	return &param{name: "pretty", in: "query", typ: "string", description: "If 'true', then the output is pretty " +
		"printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."}
}

func proxyPathParam() *param {
	return &param{name: "path", in: "path", description: "path to the resource", typ: "string", required: true}
}

// sortParams orders parameters as upstream does: the body first, then by
// name.
func sortParams(ps []*param) {
	sort.SliceStable(ps, func(i, j int) bool {
		if (ps[i].in == "body") != (ps[j].in == "body") {
			return ps[i].in == "body"
		}
		return ps[i].name < ps[j].name
	})
}
