package discovery

import (
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestMapperResolvesNamesAsKubectl(t *testing.T) {
	api := &fakeAPI{aggregated: true, extra: true}
	srv := httptest.NewServer(api)
	defer srv.Close()
	var warnings []string
	m := NewMapper(newClient(t, srv, t.TempDir()), func(w string) { warnings = append(warnings, w) })
	for _, tc := range []struct {
		in   schema.GroupVersionResource
		want string
	}{
		{schema.GroupVersionResource{Resource: "pods"}, "/v1, Kind=Pod"},
		{schema.GroupVersionResource{Resource: "pod"}, "/v1, Kind=Pod"},
		{schema.GroupVersionResource{Resource: "svc"}, "/v1, Kind=Service"},
		{schema.GroupVersionResource{Resource: "deploy"}, "apps/v1, Kind=Deployment"},
		{schema.GroupVersionResource{Resource: "deployments", Group: "apps"}, "apps/v1, Kind=Deployment"},
		{schema.GroupVersionResource{Resource: "deployment", Group: "apps", Version: "v1"}, "apps/v1, Kind=Deployment"},
		{schema.GroupVersionResource{Resource: "widget"}, "example.com/v1, Kind=Widget"},
		// A short name in two groups: the first group in discovery order
		// wins, with kubectl's warning.
		{schema.GroupVersionResource{Resource: "po"}, "/v1, Kind=Pod"},
		{schema.GroupVersionResource{Resource: "po", Group: "example.com"}, "example.com/v1, Kind=Widget"},
	} {
		got, err := m.KindFor(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("KindFor(%v) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if len(warnings) != 1 || warnings[0] != `short name "po" could also match lower priority resource widgets.example.com` {
		t.Errorf("warnings %q", warnings)
	}
	rm, err := m.RESTMapping(schema.GroupKind{Group: "apps", Kind: "Deployment"})
	if err != nil || rm.Resource.String() != "apps/v1, Resource=deployments" || rm.Scope.Name() != meta.RESTScopeNameNamespace {
		t.Errorf("RESTMapping(Deployment) = %+v, %v", rm, err)
	}
	rm, err = m.RESTMapping(schema.GroupKind{Group: "example.com", Kind: "Widget"}, "v1")
	if err != nil || rm.Scope.Name() != meta.RESTScopeNameRoot {
		t.Errorf("RESTMapping(Widget) = %+v, %v", rm, err)
	}
	if _, err := m.KindFor(schema.GroupVersionResource{Resource: "nosuch"}); !meta.IsNoMatchError(err) {
		t.Errorf("unknown type: %v, want a no-match error", err)
	}
}

func TestMapperRefetchesWhenTheCacheMisses(t *testing.T) {
	api := &fakeAPI{aggregated: true}
	srv := httptest.NewServer(api)
	defer srv.Close()
	dir := t.TempDir()
	if _, _, err := newClient(t, srv, dir).ServerGroupsAndResources(); err != nil {
		t.Fatal(err)
	}
	// A group is added after the cache was written: the next process finds
	// it through one refetch.
	api.extra = true
	m := NewMapper(newClient(t, srv, dir), nil)
	if got, err := m.KindFor(schema.GroupVersionResource{Resource: "widgets"}); err != nil || got.Kind != "Widget" {
		t.Fatalf("KindFor(widgets) = %v, %v", got, err)
	}
	if n := api.served("/apis"); n != 2 {
		t.Errorf("/apis served %d times, want 2 (cache write, refetch)", n)
	}
	// A type that does not exist anywhere costs no more requests once the
	// data is fresh.
	if _, err := m.KindFor(schema.GroupVersionResource{Resource: "gadgets"}); err == nil || !strings.Contains(err.Error(), "gadgets") {
		t.Errorf("unknown type: %v", err)
	}
	if n := api.served("/apis"); n != 2 {
		t.Errorf("/apis served %d times after a miss on fresh data, want 2", n)
	}
}
