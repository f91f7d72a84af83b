package apiserver

import (
	"net/http"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is what a resource path names, parsed as kube-apiserver's
// RequestInfoFactory does.
type requestInfo struct {
	gv          schema.GroupVersion
	namespace   string
	resource    string
	name        string
	subresource string
	// subpath holds what follows the subresource (nodes/proxy/<path>).
	subpath string
	verb    string // get list watch create update patch delete deletecollection
}

// parseResourcePath parses the parts of /api/v1/... or /apis/<g>/<v>/...
// (splitPath) into a requestInfo. ok is false for paths that are not
// resource paths (discovery documents, unknown prefixes).
func parseResourcePath(method string, parts []string, query url.Values) (requestInfo, bool) {
	var ri requestInfo
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.gv = schema.GroupVersion{Version: parts[1]}
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.gv = schema.GroupVersion{Group: parts[1], Version: parts[2]}
		parts = parts[3:]
	default:
		return ri, false
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		ri.namespace = parts[1]
		if len(parts) > 2 && parts[2] != "status" && parts[2] != "finalize" {
			parts = parts[2:]
		}
	}
	ri.resource = parts[0]
	if len(parts) > 1 {
		ri.name = parts[1]
	}
	if len(parts) > 2 {
		ri.subresource = parts[2]
	}
	if len(parts) > 3 {
		ri.subpath = strings.Join(parts[3:], "/")
	}
	if ri.resource == "namespaces" && ri.name != "" {
		// /api/v1/namespaces/foo names the namespace foo, which is not in
		// a namespace itself.
		ri.namespace = ""
	}
	ri.verb = verbFor(method, ri.name, query)
	if method == http.MethodOptions && ri.subresource == "proxy" {
		ri.verb = "options" // proxied to the pod or node as any other method
	}
	return ri, true
}

func verbFor(method, name string, query url.Values) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		if isTrue(query.Get("watch")) {
			return "watch"
		}
		if name == "" {
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if name == "" {
			return "deletecollection"
		}
		return "delete"
	}
	return ""
}

func splitPath(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

// isTrue parses a boolean query parameter as upstream: "true" or "1".
func isTrue(s string) bool { return s == "true" || s == "1" }
