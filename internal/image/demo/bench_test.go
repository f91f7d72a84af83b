package demo

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"kserver.dev/kserver/internal/image"
)

// Figures for docs/image.md:
//
//	go test ./internal/image/demo -run '^$' -bench . -benchtime 10x
//
// BenchmarkPull pulls from an in-process registry on 127.0.0.1 into an empty
// store (resolve, download, verify, gunzip, unpack): busybox alone, kubia:v1
// alone (busybox and kubia layers) and the whole set (11 images, 3 layers).
func BenchmarkPull(b *testing.B) {
	_, imgs := buildSet(b)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	var refs []string
	for _, im := range imgs {
		src, err := image.ParseReference(im.Tags[0])
		if err != nil {
			b.Fatal(err)
		}
		ref := host + "/" + src.Path + ":" + src.Tag
		r, err := name.ParseReference(ref)
		if err != nil {
			b.Fatal(err)
		}
		if err := remote.Write(r, im.Image); err != nil {
			b.Fatal(err)
		}
		refs = append(refs, ref)
	}
	for _, c := range []struct {
		name string
		refs []string
	}{
		{"busybox", refs[:1]},
		{"kubia-v1", refs[1:2]},
		{"set", refs},
	} {
		b.Run(c.name, func(b *testing.B) { benchPull(b, c.refs) })
	}
}

func benchPull(b *testing.B, refs []string) {
	ctx := context.Background()
	cpu := startCPU()
	for b.Loop() {
		b.StopTimer()
		s := openStore(b)
		b.StartTimer()
		for _, ref := range refs {
			if _, err := s.Pull(ctx, ref, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	cpu.report(b)
}

// BenchmarkImportDemoArchive imports the archive `make images` writes into
// an empty store, as kserver does at its first start.
func BenchmarkImportDemoArchive(b *testing.B) {
	archive, _ := buildSet(b)
	ctx := context.Background()
	cpu := startCPU()
	for b.Loop() {
		b.StopTimer()
		s := openStore(b)
		b.StartTimer()
		if _, err := s.Import(ctx, archive); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	cpu.report(b)
}

// cpuClock reports the process CPU time (user + system) per operation: on a
// machine shared with other work it varies far less than wall time.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{start: cpuNow()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(cpuNow()-c.start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkRootfsMount mounts a container root filesystem of luksa/kubia:v1
// (two layers): the image store's share of a container start. Removing it
// again is timed apart, in BenchmarkRootfsRemove.
func BenchmarkRootfsMount(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (overlay mounts)")
	}
	archive, _ := buildSet(b)
	s := openStore(b)
	ctx := context.Background()
	if _, err := s.Import(ctx, archive); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("bench-%d", i)
		i++
		if _, err := s.PrepareRootfs(ctx, id, "luksa/kubia:v1"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.RemoveRootfs(id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRootfsRemove unmounts and deletes a container root filesystem.
func BenchmarkRootfsRemove(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (overlay mounts)")
	}
	archive, _ := buildSet(b)
	s := openStore(b)
	ctx := context.Background()
	if _, err := s.Import(ctx, archive); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("bench-%d", i)
		i++
		b.StopTimer()
		if _, err := s.PrepareRootfs(ctx, id, "luksa/kubia:v1"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.RemoveRootfs(id); err != nil {
			b.Fatal(err)
		}
	}
}
