package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
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
