package kctl

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
)

// namedObjectPath matches the path of one namespaced object, core or group
// (no subresource): /api/v1/namespaces/NS/RES/NAME,
// /apis/GROUP/VERSION/namespaces/NS/RES/NAME.
var namedObjectPath = regexp.MustCompile(`^/api(?:s/[^/]+)?/[^/]+/namespaces/([^/]+)/([^/]+)/[^/]+$`)

// missingNamespaceTripper does what kubectl's resource builder does when
// getting one object answers NotFound in a namespace other than default: it
// asks for the namespace, and when that is missing too the namespace's
// NotFound is the answer ("namespaces "x" not found" names the real slip).
type missingNamespaceTripper struct {
	next http.RoundTripper
}

// noNamespaceCheck marks a context whose requests skip the check (delete:
// kubectl deletes by name without getting the object first).
type noNamespaceCheck struct{}

func withoutNamespaceCheck(ctx context.Context) context.Context {
	return context.WithValue(ctx, noNamespaceCheck{}, true)
}

// WrappedRoundTripper lets client-go reach the transport beneath.
func (m *missingNamespaceTripper) WrappedRoundTripper() http.RoundTripper { return m.next }

func (m *missingNamespaceTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusNotFound || req.Context().Value(noNamespaceCheck{}) != nil {
		return resp, err
	}
	match := namedObjectPath.FindStringSubmatch(req.URL.Path)
	if match == nil || match[1] == "default" || match[2] == "namespaces" {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil || !isNotFoundStatus(body) {
		return resp, nil
	}
	nsReq := req.Clone(req.Context())
	nsReq.URL.Path = "/api/v1/namespaces/" + match[1]
	nsReq.URL.RawPath, nsReq.URL.RawQuery = "", ""
	nsResp, nerr := m.next.RoundTrip(nsReq)
	if nerr != nil {
		return resp, nil
	}
	if nsResp.StatusCode == http.StatusNotFound {
		return nsResp, nil
	}
	_, _ = io.Copy(io.Discard, nsResp.Body)
	nsResp.Body.Close()
	return resp, nil
}

// isNotFoundStatus reports whether body is a Status with reason NotFound
// (a 404 from a proxy or an unknown path is left alone).
func isNotFoundStatus(body []byte) bool {
	var st struct {
		Kind, Reason string
	}
	return json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Reason == "NotFound"
}
