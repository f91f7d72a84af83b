package apiserver

import (
	"net/http"
	"testing"
)

// Deprecated API versions warn on every request, whatever the verb or the
// outcome, as upstream's deprecation filter does (kubectl prints
// "Warning: v1 Endpoints is deprecated in v1.33+; …").
func TestDeprecatedAPIsWarn(t *testing.T) {
	ts := newTestServer(t)
	want := `299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"`
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/namespaces/default/endpoints/kubernetes", ""},
		{"GET", "/api/v1/endpoints", ""},
		{"GET", "/api/v1/namespaces/default/endpoints/missing", ""},
		{"POST", "/api/v1/namespaces/default/endpoints", `{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"e"}}`},
	} {
		code, hdr, _ := ts.raw(t, tc.method, tc.path, map[string]string{"Content-Type": "application/json"}, tc.body)
		if got := hdr.Values("Warning"); len(got) != 1 || got[0] != want {
			t.Errorf("%s %s (%d): Warning = %q", tc.method, tc.path, code, got)
		}
	}
	code, hdr, _ := ts.raw(t, "GET", "/api/v1/componentstatuses", nil, "")
	if code != http.StatusOK || hdr.Get("Warning") != `299 - "v1 ComponentStatus is deprecated in v1.19+"` {
		t.Errorf("componentstatuses (%d): Warning = %q", code, hdr.Values("Warning"))
	}
	if _, hdr, _ := ts.raw(t, "GET", "/api/v1/namespaces/default/configmaps", nil, ""); len(hdr.Values("Warning")) != 0 {
		t.Errorf("configmaps warn: %q", hdr.Values("Warning"))
	}
}
