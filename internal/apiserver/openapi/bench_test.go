package openapi

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// Generation cost of the documents and of one kind's merge schema, with
// the sizes served and kept:
//
//	go test ./internal/apiserver/openapi -run '^$' -bench . -benchtime 3x
//
// peak-heap-MiB is the largest heap (live objects plus not yet collected
// garbage, sampled every 100µs) above the heap before the build.
func BenchmarkBuild(b *testing.B) {
	resources := registry.New().All()
	b.Run("v2", func(b *testing.B) {
		var d *Docs
		peak := measurePeak(b, func() {
			d, _ = New(Config{Resources: resources})
			if _, _, err := d.V2JSON(); err != nil {
				b.Fatal(err)
			}
		})
		j, p := d.v2JSON, d.v2Proto
		b.ReportMetric(float64(j.size), "json-bytes")
		b.ReportMetric(float64(p.size), "protobuf-bytes")
		b.ReportMetric(float64(len(j.gz)+len(p.gz)), "kept-bytes")
		b.ReportMetric(peak, "peak-heap-MiB")
	})
	b.Run("v3", func(b *testing.B) {
		var d *Docs
		peak := measurePeak(b, func() {
			d, _ = New(Config{Resources: resources})
			if _, err := d.V3Index(); err != nil {
				b.Fatal(err)
			}
		})
		size, kept := 0, len(d.v3.index.gz)
		for _, doc := range d.v3.docs {
			size, kept = size+doc.size, kept+len(doc.gz)
		}
		b.ReportMetric(float64(len(d.v3.docs)), "documents")
		b.ReportMetric(float64(size), "json-bytes")
		b.ReportMetric(float64(kept), "kept-bytes")
		b.ReportMetric(peak, "peak-heap-MiB")
	})
	b.Run("typeconverter-deployment", func(b *testing.B) {
		dep := &appsv1.Deployment{}
		dep.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
		peak := measurePeak(b, func() {
			d, _ := New(Config{Resources: resources})
			if _, err := d.TypeConverter().ObjectToTyped(dep); err != nil {
				b.Fatal(err)
			}
		})
		b.ReportMetric(peak, "peak-heap-MiB")
	})
}

// measurePeak runs build b.N times and returns the peak heap growth of
// the builds, in MiB.
func measurePeak(b *testing.B, build func()) float64 {
	b.Helper()
	var peak atomic.Uint64
	done := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	runtime.GC()
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Microsecond):
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
		}
	}()
	b.ResetTimer()
	for range b.N {
		build()
	}
	b.StopTimer()
	close(done)
	if peak.Load() < base {
		return 0
	}
	return float64(peak.Load()-base) / (1 << 20)
}
