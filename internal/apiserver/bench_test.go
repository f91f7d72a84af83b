package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"k8s.io/client-go/rest"
)

// BenchmarkCreateConfigMap measures the create path through the handler
// (in-memory transport, real SQLite store): decode, admission, managed
// fields, encode, store write, response.
func BenchmarkCreateConfigMap(b *testing.B) {
	ts := newTestServer(b)
	rt := ts.Transport(User{Name: "bench", Groups: []string{groupMasters}})
	data := bytes.Repeat([]byte("x"), 2048)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-%d"},"data":{"d":%q}}`, i, data)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://x/api/v1/namespaces/default/configmaps", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
}

// BenchmarkListPods lists 10k stored pods over HTTPS (HTTP/2, JSON), as
// the A2 benchmark does.
func BenchmarkListPods(b *testing.B) {
	ts := newTestServer(b)
	rt := ts.Transport(User{Name: "bench", Groups: []string{groupMasters}})
	for i := 0; i < 10000; i++ {
		body := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-%05d","labels":{"app":"bench"}},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}`, i)
		req, _ := http.NewRequest(http.MethodPost, "http://x/api/v1/namespaces/default/pods", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	hc, err := rest.HTTPClientFor(ts.admin)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest(http.MethodGet, ts.url+"/api/v1/pods", nil)
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.SetBytes(n)
	}
}
