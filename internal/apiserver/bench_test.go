package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
)

// BenchmarkCreateConfigMap measures the create path through the handler
// (in-memory transport, real SQLite store): decode, admission, managed
// fields, encode, store write, response.
func BenchmarkCreateConfigMap(b *testing.B) {
	ts := newTestServer(b)
	rt := ts.Transport(User{Name: "bench", Groups: []string{groupMasters}})
	data := bytes.Repeat([]byte("x"), 2048)
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
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

// BenchmarkWriteMixInProcess is the same mix through the in-memory
// transport: the server's own cost, without TLS and HTTP/2.
func BenchmarkWriteMixInProcess(b *testing.B) {
	ts := newTestServer(b)
	rt := ts.Transport(User{Name: "bench", Groups: []string{groupMasters}})
	benchWriteMix(b, &http.Client{Transport: rt}, "http://x")
}

// BenchmarkWriteMixHTTPS is D2-API in miniature: 16 clients over one
// HTTPS (HTTP/2) connection pool, each looping create → merge patch →
// delete of its own ConfigMaps (1 KiB). ns/op is per write.
func BenchmarkWriteMixHTTPS(b *testing.B) {
	ts := newTestServer(b)
	hc, err := rest.HTTPClientFor(ts.admin)
	if err != nil {
		b.Fatal(err)
	}
	benchWriteMix(b, hc, ts.url)
}

func benchWriteMix(b *testing.B, hc *http.Client, url string) {
	data := bytes.Repeat([]byte("y"), 1024)
	base := url + "/api/v1/namespaces/default/configmaps"
	do := func(method, url, ct string, body []byte, want int) {
		req, _ := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Errorf("%s %s: HTTP %d", method, url, resp.StatusCode)
		}
	}
	var next atomic.Int64
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	b.RunParallel(func(pb *testing.PB) {
		for {
			name := fmt.Sprintf("cm-%d", next.Add(1))
			for step := 0; step < 3; step++ {
				if !pb.Next() {
					return
				}
				switch step {
				case 0:
					do(http.MethodPost, base, "application/json", fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q},"data":{"d":%q}}`, name, data), http.StatusCreated)
				case 1:
					do(http.MethodPatch, base+"/"+name, "application/merge-patch+json", []byte(`{"data":{"n":"1"}}`), http.StatusOK)
				case 2:
					do(http.MethodDelete, base+"/"+name, "", nil, http.StatusOK)
				}
			}
		}
	})
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per operation since start: on a shared
// machine wall time says more about the neighbours than about the code.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkInformerFanout measures what a write costs the whole process
// when in-process informers watch it (kserver runs three on ConfigMaps:
// garbage collector, quota, root CA publisher): the writer creates
// ConfigMaps through the in-memory transport and every write is waited for
// in all informers. JSON: the server copies stored bytes, every informer
// decodes JSON. Protobuf: the server decodes once (shared through the
// decoded cache) and encodes per watcher, informers decode protobuf.
func BenchmarkInformerFanout(b *testing.B) {
	for _, ct := range []string{mediaJSON, mediaProtobuf} {
		b.Run(ct[strings.LastIndex(ct, "/")+1:], func(b *testing.B) {
			ts := newTestServer(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const watchers = 3
			var seen atomic.Int64
			for range watchers {
				cfg := ts.RestConfig(User{Name: "watcher", Groups: []string{groupMasters}})
				cfg.ContentType, cfg.AcceptContentTypes = ct, ct
				set, err := client.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				inf := client.NewInformers(set, 0)
				_, _ = inf.ConfigMaps().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(any) { seen.Add(1) }})
				inf.Start(ctx)
				inf.WaitForCacheSync(ctx)
			}
			rt := ts.Transport(User{Name: "bench", Groups: []string{groupMasters}})
			base := seen.Load()
			b.ResetTimer()
			defer reportCPU(b, cpuTime())
			for i := 0; i < b.N; i++ {
				body := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"f-%d"},"data":{"d":"%0512d"}}`, i, i)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://x/api/v1/namespaces/default/configmaps", bytes.NewReader(body))
				req.Header.Set("Content-Type", mediaJSON)
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			want := base + int64(watchers*b.N)
			for deadline := time.Now().Add(time.Minute); seen.Load() < want; {
				if time.Now().After(deadline) {
					b.Fatalf("informers saw %d of %d", seen.Load()-base, watchers*b.N)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// BenchmarkCreatePod is a pod create through the in-memory transport with
// everything upstream's admission does to it (ServiceAccount, Priority,
// LimitRanger, DefaultTolerationSeconds, quota) and its managed fields, in
// JSON or protobuf as an in-process client sends it.
func BenchmarkCreatePod(b *testing.B) {
	for _, ct := range []string{mediaJSON, mediaProtobuf} {
		b.Run(ct[strings.LastIndex(ct, "/")+1:], func(b *testing.B) {
			ts := newTestServer(b)
			cfg := ts.RestConfig(User{Name: "bench", Groups: []string{groupMasters}})
			cfg.ContentType = ct
			set, err := client.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			defer reportCPU(b, cpuTime())
			for i := 0; i < b.N; i++ {
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27",
						Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}}
				if _, err := set.Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
