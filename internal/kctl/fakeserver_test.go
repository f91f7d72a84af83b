package kctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// fakeServer is a canned Kubernetes API for tests: legacy discovery for
// core/v1 and apps/v1, objects kept in memory, Tables built with fixed
// columns per resource, and a log of the requests it got.
type fakeServer struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	objs map[string]*unstructured.Unstructured // key: resource/namespace/name
	reqs []string
	// tableCells computes a row for a resource; tests may override.
	columns map[string][]metav1.TableColumnDefinition
	cells   map[string]func(u *unstructured.Unstructured) []any
}

var fakeResources = map[string]metav1.APIResource{
	"pods":                   {Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", ShortNames: []string{"po"}, Categories: []string{"all"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
	"services":               {Name: "services", SingularName: "service", Namespaced: true, Kind: "Service", ShortNames: []string{"svc"}, Categories: []string{"all"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
	"nodes":                  {Name: "nodes", SingularName: "node", Namespaced: false, Kind: "Node", ShortNames: []string{"no"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
	"namespaces":             {Name: "namespaces", SingularName: "namespace", Namespaced: false, Kind: "Namespace", ShortNames: []string{"ns"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
	"configmaps":             {Name: "configmaps", SingularName: "configmap", Namespaced: true, Kind: "ConfigMap", ShortNames: []string{"cm"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
	"replicationcontrollers": {Name: "replicationcontrollers", SingularName: "replicationcontroller", Namespaced: true, Kind: "ReplicationController", ShortNames: []string{"rc"}, Categories: []string{"all"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
	"events":                 {Name: "events", SingularName: "event", Namespaced: true, Kind: "Event", ShortNames: []string{"ev"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
	"deployments":            {Name: "deployments", SingularName: "deployment", Namespaced: true, Kind: "Deployment", ShortNames: []string{"deploy"}, Categories: []string{"all"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
	"replicasets":            {Name: "replicasets", SingularName: "replicaset", Namespaced: true, Kind: "ReplicaSet", ShortNames: []string{"rs"}, Categories: []string{"all"}, Verbs: []string{"get", "list", "create", "delete", "patch", "update", "watch"}},
}

var fakeGroups = map[string][]string{
	"v1":      {"configmaps", "events", "namespaces", "nodes", "pods", "replicationcontrollers", "services"},
	"apps/v1": {"deployments", "replicasets"},
}

func newFakeServer(t *testing.T, objs ...*unstructured.Unstructured) *fakeServer {
	fs := &fakeServer{t: t, objs: map[string]*unstructured.Unstructured{}, columns: map[string][]metav1.TableColumnDefinition{}, cells: map[string]func(*unstructured.Unstructured) []any{}}
	for _, o := range objs {
		fs.put(o)
	}
	fs.srv = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.srv.Close)
	return fs
}

func resourceOf(kind string) string {
	for r, ar := range fakeResources {
		if ar.Kind == kind {
			return r
		}
	}
	return strings.ToLower(kind) + "s"
}

func (fs *fakeServer) put(o *unstructured.Unstructured) {
	fs.objs[resourceOf(o.GetKind())+"/"+o.GetNamespace()+"/"+o.GetName()] = o
}

func (fs *fakeServer) requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.reqs...)
}

func (fs *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.reqs = append(fs.reqs, r.Method+" "+r.URL.String())
	w.Header().Set("Content-Type", "application/json")
	p := r.URL.Path
	switch {
	case p == "/version":
		fmt.Fprint(w, `{"major":"1","minor":"37","gitVersion":"v1.37.2+kserver","gitCommit":"abc","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.26.0","compiler":"gc","platform":"linux/amd64"}`)
	case p == "/api":
		fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1:6443"}]}`)
	case p == "/apis":
		fmt.Fprint(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}`)
	case p == "/api/v1" || p == "/apis/apps/v1":
		gv := strings.TrimPrefix(strings.TrimPrefix(p, "/apis/"), "/api/")
		l := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv}
		for _, n := range fakeGroups[gv] {
			l.APIResources = append(l.APIResources, fakeResources[n])
		}
		json.NewEncoder(w).Encode(l)
	default:
		fs.serveResource(w, r)
	}
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string, details map[string]any) {
	w.WriteHeader(code)
	st := map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
		"message": msg, "reason": reason, "code": code}
	if details != nil {
		st["details"] = details
	}
	json.NewEncoder(w).Encode(st)
}

// parsePath splits /api/v1/namespaces/ns/pods/name[/sub] and friends.
func parsePath(p string) (gv, ns, res, name, sub string) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if parts[0] == "api" {
		gv, parts = parts[1], parts[2:]
	} else {
		gv, parts = parts[1]+"/"+parts[2], parts[3:]
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		ns, parts = parts[1], parts[2:]
	}
	res = parts[0]
	if len(parts) > 1 {
		name = parts[1]
	}
	if len(parts) > 2 {
		sub = parts[2]
	}
	return
}

func (fs *fakeServer) serveResource(w http.ResponseWriter, r *http.Request) {
	gv, ns, res, name, _ := parsePath(r.URL.Path)
	ar, ok := fakeResources[res]
	if !ok {
		writeStatus(w, 404, "NotFound", "the server could not find the requested resource", nil)
		return
	}
	grName := res
	if strings.Contains(gv, "/") {
		grName += "." + strings.Split(gv, "/")[0]
	}
	switch r.Method {
	case http.MethodGet:
		if name != "" {
			o, ok := fs.objs[res+"/"+ns+"/"+name]
			if !ok {
				writeStatus(w, 404, "NotFound", fmt.Sprintf("%s %q not found", grName, name), map[string]any{"name": name, "kind": res})
				return
			}
			fs.writeObjects(w, r, gv, ar, []*unstructured.Unstructured{o}, false)
			return
		}
		var items []*unstructured.Unstructured
		for k, o := range fs.objs {
			if strings.HasPrefix(k, res+"/") && (ns == "" || o.GetNamespace() == ns) && matchesLabels(o, r.URL.Query().Get("labelSelector")) {
				items = append(items, o)
			}
		}
		sort.Slice(items, func(i, j int) bool {
			if items[i].GetNamespace() != items[j].GetNamespace() {
				return items[i].GetNamespace() < items[j].GetNamespace()
			}
			return items[i].GetName() < items[j].GetName()
		})
		fs.writeObjects(w, r, gv, ar, items, true)
	case http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(body); err != nil {
			writeStatus(w, 400, "BadRequest", err.Error(), nil)
			return
		}
		if u.GetNamespace() == "" && ar.Namespaced {
			u.SetNamespace(ns)
		}
		if _, ok := fs.objs[res+"/"+u.GetNamespace()+"/"+u.GetName()]; ok {
			writeStatus(w, 409, "AlreadyExists", fmt.Sprintf("%s %q already exists", grName, u.GetName()), map[string]any{"name": u.GetName(), "kind": res})
			return
		}
		u.SetResourceVersion("1")
		u.SetUID(types.UID("uid-" + u.GetName()))
		fs.put(u)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(u)
	case http.MethodDelete:
		key := res + "/" + ns + "/" + name
		o, ok := fs.objs[key]
		if !ok {
			writeStatus(w, 404, "NotFound", fmt.Sprintf("%s %q not found", grName, name), map[string]any{"name": name, "kind": res})
			return
		}
		delete(fs.objs, key)
		json.NewEncoder(w).Encode(o)
	default:
		writeStatus(w, 405, "MethodNotAllowed", "not supported by the fake server", nil)
	}
}

func matchesLabels(o *unstructured.Unstructured, sel string) bool {
	if sel == "" {
		return true
	}
	for _, req := range strings.Split(sel, ",") {
		k, v, _ := strings.Cut(req, "=")
		if o.GetLabels()[k] != v {
			return false
		}
	}
	return true
}

func (fs *fakeServer) writeObjects(w http.ResponseWriter, r *http.Request, gv string, ar metav1.APIResource, items []*unstructured.Unstructured, list bool) {
	if strings.Contains(r.Header.Get("Accept"), "as=Table") {
		tbl := map[string]any{"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": map[string]any{"resourceVersion": "10"}}
		cols, ok := fs.columns[ar.Name]
		if !ok {
			cols = []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name"}, {Name: "Age", Type: "string"}}
		}
		tbl["columnDefinitions"] = cols
		rows := []any{}
		for _, o := range items {
			cells := []any{o.GetName(), "10m"}
			if fn := fs.cells[ar.Name]; fn != nil {
				cells = fn(o)
			}
			md := map[string]any{"name": o.GetName(), "namespace": o.GetNamespace(), "labels": o.GetLabels()}
			obj := map[string]any{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}
			if r.URL.Query().Get("includeObject") == "Object" {
				obj = o.Object
			}
			rows = append(rows, map[string]any{"cells": cells, "object": obj})
		}
		tbl["rows"] = rows
		json.NewEncoder(w).Encode(tbl)
		return
	}
	if !list {
		json.NewEncoder(w).Encode(items[0])
		return
	}
	l := map[string]any{"kind": ar.Kind + "List", "apiVersion": gv, "metadata": map[string]any{"resourceVersion": "10"}}
	arr := []any{}
	for _, o := range items {
		c := o.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "kind")
		unstructured.RemoveNestedField(c.Object, "apiVersion")
		arr = append(arr, c.Object)
	}
	l["items"] = arr
	json.NewEncoder(w).Encode(l)
}

// kubeconfig writes a kubeconfig for the fake server and returns its path.
func (fs *fakeServer) kubeconfig() string {
	dir := fs.t.TempDir()
	p := filepath.Join(dir, "config")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\ncontexts:\n- name: c\n  context: {cluster: c, user: u, namespace: default}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n", fs.srv.URL)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		fs.t.Fatal(err)
	}
	return p
}

// run executes kctl against the fake server and returns stdout, stderr
// and the exit code. The discovery cache goes to a temp dir.
func (fs *fakeServer) run(stdin string, args ...string) (string, string, int) {
	fs.t.Helper()
	fs.t.Setenv("KUBECACHEDIR", fs.t.TempDir())
	fs.t.Setenv("XDG_CONFIG_HOME", fs.t.TempDir())
	var out, errOut bytes.Buffer
	full := append([]string{"--kubeconfig", fs.kubeconfig()}, args...)
	code := Main(context.Background(), full, genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

func obj(apiVersion, kind, ns, name string, labels map[string]string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetName(name)
	u.SetNamespace(ns)
	u.SetLabels(labels)
	u.SetCreationTimestamp(metav1.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return u
}
