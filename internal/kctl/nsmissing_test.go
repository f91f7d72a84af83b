package kctl

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A NotFound for one object in a namespace other than default becomes the
// namespace's NotFound when the namespace is missing too; lists, the
// default namespace, existing namespaces and delete's context keep theirs.
func TestMissingNamespaceTripper(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/namespaces/there":
			w.Write([]byte(`{"kind":"Namespace"}`))
		case "/api/v1/namespaces/nons", "/api/v1/namespaces/default":
			w.WriteHeader(404)
			w.Write([]byte(`{"kind":"Status","reason":"NotFound","message":"namespaces \"nons\" not found"}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"kind":"Status","reason":"NotFound","message":"pods \"x\" not found"}`))
		}
	}))
	defer srv.Close()
	rt := &missingNamespaceTripper{next: http.DefaultTransport}
	for path, want := range map[string]string{
		"/api/v1/namespaces/nons/pods/x":              "namespaces",
		"/apis/apps/v1/namespaces/nons/deployments/x": "namespaces",
		"/api/v1/namespaces/there/pods/x":             "pods",
		"/api/v1/namespaces/default/pods/x":           "pods",
		"/api/v1/namespaces/nons/pods":                "pods",
		"/api/v1/namespaces/nons/pods/x/log":          "pods",
	} {
		for _, ctx := range []context.Context{context.Background(), withoutNamespaceCheck(context.Background())} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			w := want
			if ctx.Value(noNamespaceCheck{}) != nil {
				w = "pods"
			}
			if resp.StatusCode != 404 || !strings.Contains(string(body), w+` \"`) {
				t.Errorf("GET %s (skip=%v): %d %s, want %s NotFound", path, ctx.Value(noNamespaceCheck{}) != nil, resp.StatusCode, body, w)
			}
		}
	}
}
