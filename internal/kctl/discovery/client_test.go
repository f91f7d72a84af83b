package discovery

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/disk"
	"k8s.io/client-go/rest"
)

// fakeAPI serves discovery for core v1 (pods with subresources, services),
// apps v1 (deployments) and, when extra is set, a group made later.
// aggregated selects aggregated discovery or the legacy documents.
type fakeAPI struct {
	aggregated bool
	stale      bool // marks apps/v1 Stale
	extra      bool // serves example.com/v1 widgets

	mu       sync.Mutex
	requests []string
}

func (f *fakeAPI) served(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.requests {
		if p == path {
			n++
		}
	}
	return n
}

func gvk(g, v, k string) *metav1.GroupVersionKind {
	return &metav1.GroupVersionKind{Group: g, Version: v, Kind: k}
}

var verbs = []string{"create", "delete", "get", "list", "patch", "update", "watch"}

func (f *fakeAPI) aggregatedDoc(core bool) apidiscoveryv2.APIGroupDiscoveryList {
	var items []apidiscoveryv2.APIGroupDiscovery
	if core {
		items = append(items, apidiscoveryv2.APIGroupDiscovery{Versions: []apidiscoveryv2.APIVersionDiscovery{{Version: "v1", Resources: []apidiscoveryv2.APIResourceDiscovery{
			{Resource: "pods", SingularResource: "pod", Scope: apidiscoveryv2.ScopeNamespace, ResponseKind: gvk("", "v1", "Pod"), Verbs: verbs, ShortNames: []string{"po"}, Categories: []string{"all"},
				Subresources: []apidiscoveryv2.APISubresourceDiscovery{
					{Subresource: "eviction", ResponseKind: gvk("policy", "v1", "Eviction"), Verbs: []string{"create"}},
					{Subresource: "nokind", Verbs: []string{"get"}},
				}},
			{Resource: "services", SingularResource: "service", Scope: apidiscoveryv2.ScopeNamespace, ResponseKind: gvk("", "v1", "Service"), Verbs: verbs, ShortNames: []string{"svc"}},
			{Resource: "lost", SingularResource: "lost", Scope: apidiscoveryv2.ScopeCluster, Verbs: verbs},
		}}}})
		return apidiscoveryv2.APIGroupDiscoveryList{Items: items}
	}
	apps := apidiscoveryv2.APIVersionDiscovery{Version: "v1", Resources: []apidiscoveryv2.APIResourceDiscovery{
		{Resource: "deployments", SingularResource: "deployment", Scope: apidiscoveryv2.ScopeNamespace, ResponseKind: gvk("apps", "v1", "Deployment"), Verbs: verbs, ShortNames: []string{"deploy"}, Categories: []string{"all"}},
	}}
	if f.stale {
		apps.Freshness = apidiscoveryv2.DiscoveryFreshnessStale
	}
	items = append(items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: "apps"}, Versions: []apidiscoveryv2.APIVersionDiscovery{apps}})
	if f.extra {
		items = append(items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: "example.com"}, Versions: []apidiscoveryv2.APIVersionDiscovery{
			{Version: "v1", Resources: []apidiscoveryv2.APIResourceDiscovery{
				{Resource: "widgets", SingularResource: "widget", Scope: apidiscoveryv2.ScopeCluster, ResponseKind: gvk("example.com", "v1", "Widget"), Verbs: verbs, ShortNames: []string{"po"}},
			}}}})
	}
	return apidiscoveryv2.APIGroupDiscoveryList{Items: items}
}

// legacyDocs converts the aggregated documents to the legacy ones.
func (f *fakeAPI) legacyDocs() map[string]any {
	docs := map[string]any{"/api": metav1.APIVersions{Versions: []string{"v1"}}}
	var groups metav1.APIGroupList
	_, res, _ := splitAggregated(ptr(f.aggregatedDoc(true)))
	named, nres, _ := splitAggregated(ptr(f.aggregatedDoc(false)))
	groups.Groups = named
	docs["/apis"] = groups
	for gv, l := range res {
		docs["/api/"+gv.Version] = l
	}
	for gv, l := range nres {
		docs["/apis/"+gv.String()] = l
	}
	return docs
}

func ptr[T any](v T) *T { return &v }

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.Path)
	f.mu.Unlock()
	if r.URL.Path == "/version" {
		writeJSON(w, "application/json", map[string]string{"gitVersion": "v1.37.2+kserver", "major": "1", "minor": "37"})
		return
	}
	if f.aggregated && (r.URL.Path == "/api" || r.URL.Path == "/apis") {
		if !strings.Contains(r.Header.Get("Accept"), "as=APIGroupDiscoveryList") {
			http.Error(w, "want aggregated accept", http.StatusNotAcceptable)
			return
		}
		writeJSON(w, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", f.aggregatedDoc(r.URL.Path == "/api"))
		return
	}
	if doc, ok := f.legacyDocs()[r.URL.Path]; ok {
		writeJSON(w, "application/json", doc)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"the server could not find the requested resource"}`))
}

func writeJSON(w http.ResponseWriter, ct string, v any) {
	w.Header().Set("Content-Type", ct)
	json.NewEncoder(w).Encode(v)
}

func newClient(t *testing.T, srv *httptest.Server, dir string) *Client {
	t.Helper()
	c, err := New(&rest.Config{Host: srv.URL}, dir, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func resourceNames(l *metav1.APIResourceList) []string {
	var out []string
	for _, r := range l.APIResources {
		out = append(out, r.Name)
	}
	return out
}

func TestAggregatedAndLegacyGiveTheSameAnswers(t *testing.T) {
	for _, aggregated := range []bool{true, false} {
		api := &fakeAPI{aggregated: aggregated}
		srv := httptest.NewServer(api)
		defer srv.Close()
		c := newClient(t, srv, "")
		groups, lists, err := c.ServerGroupsAndResources()
		if err != nil {
			t.Fatalf("aggregated=%v: %v", aggregated, err)
		}
		var names []string
		for _, g := range groups {
			names = append(names, g.Name+"="+g.PreferredVersion.GroupVersion)
		}
		if want := []string{"=v1", "apps=apps/v1"}; !reflect.DeepEqual(names, want) {
			t.Errorf("aggregated=%v: groups %v, want %v", aggregated, names, want)
		}
		if len(lists) != 2 || lists[0].GroupVersion != "v1" || lists[1].GroupVersion != "apps/v1" {
			t.Fatalf("aggregated=%v: lists %+v", aggregated, lists)
		}
		// Resources without a kind are dropped; subresources follow their
		// parent and carry its scope and singular name.
		if got, want := resourceNames(lists[0]), []string{"pods", "pods/eviction", "services"}; !reflect.DeepEqual(got, want) {
			t.Errorf("aggregated=%v: core resources %v, want %v", aggregated, got, want)
		}
		ev := lists[0].APIResources[1]
		if ev.Group != "policy" || ev.Version != "v1" || ev.Kind != "Eviction" || !ev.Namespaced || ev.SingularName != "pod" {
			t.Errorf("aggregated=%v: pods/eviction = %+v", aggregated, ev)
		}
		if aggregated && (api.served("/api/v1") != 0 || api.served("/apis/apps/v1") != 0) {
			t.Errorf("aggregated discovery fetched per-version documents: %v", api.requests)
		}
		if !aggregated && (api.served("/api/v1") != 1 || api.served("/apis/apps/v1") != 1) {
			t.Errorf("legacy discovery requests %v, want /api/v1 and /apis/apps/v1 once", api.requests)
		}
	}
}

func TestStaleGroupVersionIsAPartialResult(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{aggregated: true, stale: true})
	defer srv.Close()
	c := newClient(t, srv, "")
	groups, lists, err := c.ServerGroupsAndResources()
	if !IsGroupDiscoveryFailedError(err) || !strings.Contains(err.Error(), "apps/v1: stale GroupVersion discovery") {
		t.Fatalf("err = %v, want a partial discovery naming apps/v1", err)
	}
	if len(groups) != 2 || len(lists) != 1 || lists[0].GroupVersion != "v1" {
		t.Errorf("groups %d, lists %+v: want both groups and core's resources", len(groups), lists)
	}
}

func TestDiskCacheIsSharedWithKubectl(t *testing.T) {
	api := &fakeAPI{aggregated: true}
	srv := httptest.NewServer(api)
	defer srv.Close()
	dir := t.TempDir()
	c := newClient(t, srv, dir)
	if _, _, err := c.ServerGroupsAndResources(); err != nil {
		t.Fatal(err)
	}
	if !c.Fresh() {
		t.Error("answers fetched in this process are not fresh")
	}
	for _, f := range []string{"servergroups.json", "v1/serverresources.json", "apps/v1/serverresources.json"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("cache file: %v", err)
		}
		if fi.Mode().Perm() != 0o660 {
			t.Errorf("%s mode %v, want 0660", f, fi.Mode().Perm())
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "servergroups.json"))
	if !strings.HasPrefix(string(b), `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"","versions":[{"groupVersion":"v1","version":"v1"}]`) || !strings.HasSuffix(string(b), "}\n") {
		t.Errorf("servergroups.json = %s", b)
	}

	// client-go's own disk cache (what kubectl uses) reads our files
	// without asking the server.
	before := len(api.requests)
	kc, err := disk.NewCachedDiscoveryClientForConfig(&rest.Config{Host: srv.URL}, dir, t.TempDir(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l, err := kc.ServerResourcesForGroupVersion("v1")
	if err != nil || !reflect.DeepEqual(resourceNames(l), []string{"pods", "pods/eviction", "services"}) {
		t.Fatalf("kubectl's cache reader: %v %v", l, err)
	}
	if _, err := kc.ServerGroups(); err != nil || len(api.requests) != before {
		t.Errorf("kubectl's cache reader went to the server (%v): %v", err, api.requests[before:])
	}

	// A second process reads the cache, is not fresh, and a mapper miss
	// refetches once.
	c2 := newClient(t, srv, dir)
	if _, _, err := c2.ServerGroupsAndResources(); err != nil || len(api.requests) != before {
		t.Fatalf("cached read went to the server (%v): %v", err, api.requests[before:])
	}
	if c2.Fresh() {
		t.Error("answers from an older cache file are fresh")
	}
	c2.Invalidate()
	if _, err := c2.ServerGroups(); err != nil || api.served("/apis") != 2 {
		t.Errorf("after Invalidate: %v, /apis served %d times, want 2", err, api.served("/apis"))
	}
}

func TestReadsACacheWrittenByKubectl(t *testing.T) {
	api := &fakeAPI{aggregated: false}
	srv := httptest.NewServer(api)
	defer srv.Close()
	dir := t.TempDir()
	kc, err := disk.NewCachedDiscoveryClientForConfig(&rest.Config{Host: srv.URL}, dir, t.TempDir(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kc.ServerGroupsAndResources(); err != nil {
		t.Fatal(err)
	}
	before := len(api.requests)
	c := newClient(t, srv, dir)
	groups, lists, err := c.ServerGroupsAndResources()
	if err != nil || len(groups) != 2 || len(lists) != 2 || len(api.requests) != before {
		t.Fatalf("groups %d lists %d err %v requests %v", len(groups), len(lists), err, api.requests[before:])
	}
	if got := resourceNames(lists[1]); !reflect.DeepEqual(got, []string{"deployments"}) {
		t.Errorf("apps/v1 from kubectl's cache: %v", got)
	}
}

func TestExpiredCacheIsRefetched(t *testing.T) {
	api := &fakeAPI{aggregated: true}
	srv := httptest.NewServer(api)
	defer srv.Close()
	dir := t.TempDir()
	if _, err := newClient(t, srv, dir).ServerGroups(); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "servergroups.json"), old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, srv, dir).ServerGroups(); err != nil || api.served("/apis") != 2 {
		t.Errorf("expired cache: %v, /apis served %d times, want 2", err, api.served("/apis"))
	}
}

func TestServerVersionAndOpenAPI(t *testing.T) {
	api := &fakeAPI{aggregated: true}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.HandleFunc("/openapi/v3", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, "application/json", map[string]any{"paths": map[string]any{"apis/apps/v1": map[string]string{"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=ABC"}}})
	})
	mux.HandleFunc("/openapi/v3/apis/apps/v1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hash") != "ABC" {
			http.Error(w, "hash", http.StatusBadRequest)
			return
		}
		writeJSON(w, "application/json", map[string]string{"openapi": "3.0.0"})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := newClient(t, srv, "")
	v, err := c.ServerVersion()
	if err != nil || v.GitVersion != "v1.37.2+kserver" {
		t.Errorf("version %+v %v", v, err)
	}
	b, err := c.OpenAPIV3(schema.GroupVersion{Group: "apps", Version: "v1"})
	if err != nil || !strings.Contains(string(b), `"openapi":"3.0.0"`) {
		t.Errorf("openapi: %s %v", b, err)
	}
	if _, err := c.OpenAPIV3(schema.GroupVersion{Version: "v1"}); err == nil || !strings.Contains(err.Error(), "no openapi v3 document") {
		t.Errorf("missing group version: %v", err)
	}
}
