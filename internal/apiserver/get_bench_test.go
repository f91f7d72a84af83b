package apiserver

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"

	"k8s.io/client-go/rest"
)

// BenchmarkGetPod is A1 in miniature: one client GETs random pods, one
// after another, over HTTPS (HTTP/2, JSON) from a server holding 10k pods.
// Only the API server runs (no scheduler or controllers reacting to the
// pods), so allocs/op and cpu-ns/op are the GET path's own.
func BenchmarkGetPod(b *testing.B) {
	const pods = 10000
	ts := newTestServer(b)
	rt := ts.Transport(User{Name: "bench", Groups: []string{groupMasters}})
	for i := range pods {
		body := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-%05d","labels":{"app":"bench","shard":"s%d"}},`+
			`"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}`, i, i%10)
		req, _ := http.NewRequest(http.MethodPost, "http://x/api/v1/namespaces/default/pods", bytes.NewReader(body))
		req.Header.Set("Content-Type", mediaJSON)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("create pod %d: HTTP %d", i, resp.StatusCode)
		}
	}
	hc, err := rest.HTTPClientFor(ts.admin)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/namespaces/default/pods/pod-%05d", ts.url, rand.IntN(pods)), nil)
		req.Header.Set("Accept", mediaJSON)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
}
