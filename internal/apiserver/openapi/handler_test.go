package openapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerV2Negotiation(t *testing.T) {
	d := testDocs(t)
	h := d.Handler()
	wantJSON, _, _ := d.V2JSON()
	wantProto, protoETag, _ := d.V2Protobuf()

	w := get(t, h, "GET", "/openapi/v2", map[string]string{"Accept": mediaProtoV2AtV1})
	if w.Code != 200 || w.Header().Get("Content-Type") != mediaProtoV2 || !bytes.Equal(w.Body.Bytes(), wantProto) {
		t.Errorf("protobuf: %d %q, %d bytes", w.Code, w.Header().Get("Content-Type"), w.Body.Len())
	}
	if err := proto.Unmarshal(w.Body.Bytes(), &openapi_v2.Document{}); err != nil {
		t.Errorf("protobuf body: %v", err)
	}
	for _, accept := range []string{"", "application/json", "*/*", "application/json, */*", "application/xml;q=0.9, application/json"} {
		w = get(t, h, "GET", "/openapi/v2", map[string]string{"Accept": accept})
		if w.Code != 200 || w.Header().Get("Content-Type") != mediaJSON || !bytes.Equal(w.Body.Bytes(), wantJSON) {
			t.Errorf("Accept %q: %d %q", accept, w.Code, w.Header().Get("Content-Type"))
		}
	}
	w = get(t, h, "GET", "/openapi/v2", map[string]string{"Accept": "application/xml"})
	if w.Code != http.StatusNotAcceptable || !isStatus(w, metav1.StatusReasonNotAcceptable) {
		t.Errorf("unacceptable type: %d %s", w.Code, w.Body)
	}
	w = get(t, h, "GET", "/openapi/v2", map[string]string{"Accept": mediaProtoV2, "If-None-Match": protoETag})
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d with %d bytes", w.Code, w.Body.Len())
	}
	w = get(t, h, "GET", "/openapi/v2", map[string]string{"Accept": mediaJSON, "Accept-Encoding": "gzip"})
	zr, err := gzip.NewReader(w.Body)
	if err != nil || w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip: %v, encoding %q", err, w.Header().Get("Content-Encoding"))
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, wantJSON) {
		t.Error("gzip body differs from the document")
	}
	w = get(t, h, "HEAD", "/openapi/v2", nil)
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
	if w = get(t, h, "POST", "/openapi/v2", nil); w.Code != http.StatusMethodNotAllowed || !isStatus(w, metav1.StatusReasonMethodNotAllowed) {
		t.Errorf("POST: %d", w.Code)
	}
}

func TestHandlerV3(t *testing.T) {
	d := testDocs(t)
	h := d.Handler()
	w := get(t, h, "GET", "/openapi/v3", map[string]string{"Accept": "application/json, */*"})
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &index); err != nil || w.Code != 200 || w.Header().Get("ETag") == "" {
		t.Fatalf("index: %d %v etag %q", w.Code, err, w.Header().Get("ETag"))
	}
	url := index.Paths["apis/apps/v1"].ServerRelativeURL
	_, hash, _, _ := d.V3("apis/apps/v1")
	if url != "/openapi/v3/apis/apps/v1?hash="+hash || len(hash) != 128 || strings.ToUpper(hash) != hash {
		t.Fatalf("serverRelativeURL %q, hash %q", url, hash)
	}

	w = get(t, h, "GET", url, map[string]string{"Accept": "application/json"})
	if w.Code != 200 || w.Header().Get("Cache-Control") != "public, immutable" || w.Header().Get("Expires") == "" {
		t.Errorf("current hash: %d, Cache-Control %q", w.Code, w.Header().Get("Cache-Control"))
	}
	if !strings.Contains(w.Body.String(), `"io.k8s.api.apps.v1.Deployment"`) {
		t.Error("apps/v1 document lacks Deployment")
	}
	w = get(t, h, "GET", "/openapi/v3/apis/apps/v1?hash=0BAD", nil)
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != url {
		t.Errorf("stale hash: %d to %q", w.Code, w.Header().Get("Location"))
	}
	w = get(t, h, "GET", "/openapi/v3/apis/apps/v1", nil)
	if w.Code != 200 || w.Header().Get("Cache-Control") != "" {
		t.Errorf("no hash: %d, Cache-Control %q", w.Code, w.Header().Get("Cache-Control"))
	}
	if w = get(t, h, "GET", "/openapi/v3/apis/nope.example.com/v1", nil); w.Code != 404 || !isStatus(w, metav1.StatusReasonNotFound) {
		t.Errorf("unknown group/version: %d %s", w.Code, w.Body)
	}
	w = get(t, h, "GET", url, map[string]string{"Accept": "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"})
	if w.Code != http.StatusNotAcceptable {
		t.Errorf("v3 protobuf only: %d", w.Code)
	}
}

func isStatus(w *httptest.ResponseRecorder, reason metav1.StatusReason) bool {
	var s metav1.Status
	return json.Unmarshal(w.Body.Bytes(), &s) == nil && s.Kind == "Status" && s.Status == metav1.StatusFailure &&
		s.Reason == reason && int(s.Code) == w.Code && w.Header().Get("Content-Type") == mediaJSON
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct{ accept, want string }{
		{"", mediaJSON},
		{mediaProtoV2AtV1, mediaProtoV2AtV1},
		{mediaProtoV2 + ";q=0.5, application/json", mediaJSON},
		{"application/*", mediaJSON},
		{"application/json;q=0, " + mediaProtoV2, mediaProtoV2},
		{"text/html", ""},
	} {
		if got := negotiate(c.accept, mediaJSON, mediaProtoV2AtV1, mediaProtoV2); got != c.want {
			t.Errorf("negotiate(%q) = %q, want %q", c.accept, got, c.want)
		}
	}
	for header, want := range map[string]bool{"gzip": true, "gzip, deflate, br": true, "gzip;q=0": false, "identity": false, "": false, "*": true} {
		if acceptsGzip(header) != want {
			t.Errorf("acceptsGzip(%q) = %v", header, !want)
		}
	}
}
