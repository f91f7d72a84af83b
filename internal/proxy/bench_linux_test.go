package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"syscall"
	"testing"

	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/nft"
)

// ScaleServices returns n Service ports with eps endpoints each, ClusterIPs
// from 10.43.0.0/16 upwards and endpoints in 10.42.0.0/16.
func scaleServices(n, eps int) []Service {
	out := make([]Service, n)
	for i := range out {
		s := Service{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i), Protocol: nft.TCP, Port: 80,
			ClusterIP: netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)})}
		for j := range eps {
			k := i*eps + j
			s.Endpoints = append(s.Endpoints, Endpoint{IP: netip.AddrFrom4([4]byte{10, 42, byte(k >> 8), byte(k)}), Port: 8080, Ready: true, Serving: true})
		}
		out[i] = s
	}
	return out
}

func benchProxier(b testing.TB) *Proxier {
	ns := netnstest.New(b, "bench")
	p, err := New(Config{NetNSFd: ns.Fd(), ClusterCIDRs: v4.ClusterCIDRs}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}

// BenchmarkFullSync10k is N3: 10k Services with 4 endpoints each.
func BenchmarkFullSync10k(b *testing.B) {
	p := benchProxier(b)
	svcs := scaleServices(10000, 4)
	defer reportCPU(b)()
	for b.Loop() {
		p.needFull = true
		if err := p.Sync(svcs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.LastSync().Ops), "msgs")
	b.ReportMetric(float64(p.LastSync().Bytes)/1e6, "MB")
}

// BenchmarkEndpointChange10k is N2: one endpoint changes among 10k Services.
func BenchmarkEndpointChange10k(b *testing.B) {
	p := benchProxier(b)
	svcs := scaleServices(10000, 4)
	if err := p.Sync(svcs); err != nil {
		b.Fatal(err)
	}
	i := 0
	defer reportCPU(b)()
	for b.Loop() {
		i++
		svcs[5000].Endpoints[0].Port = uint16(8000 + i%100)
		if err := p.Sync(svcs); err != nil {
			b.Fatal(err)
		}
		if p.LastSync().Full {
			b.Fatal("fell back to a full sync")
		}
	}
}

// BenchmarkEndpointUpdate10k is N2 through Update, the agent's
// event-driven path: only the changed Service port is handed over.
func BenchmarkEndpointUpdate10k(b *testing.B) {
	p := benchProxier(b)
	svcs := scaleServices(10000, 4)
	if err := p.Sync(svcs); err != nil {
		b.Fatal(err)
	}
	i := 0
	defer reportCPU(b)()
	for b.Loop() {
		i++
		svcs[5000].Endpoints[0].Port = uint16(8000 + i%100)
		if err := p.Update(svcs[5000:5001], nil); err != nil {
			b.Fatal(err)
		}
		if p.LastSync().Full {
			b.Fatal("fell back to a full sync")
		}
	}
}

// reportCPU adds the process CPU time per operation (user + system, which
// includes the kernel's work on our netlink transactions) to a benchmark:
// on a shared machine wall time mostly measures the other tenants.
func reportCPU(b *testing.B) func() {
	var r0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	return func() {
		var r1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		cpu := (r1.Utime.Nano() + r1.Stime.Nano()) - (r0.Utime.Nano() + r0.Stime.Nano())
		b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
		b.ReportMetric(float64(r1.Stime.Nano()-r0.Stime.Nano())/float64(b.N)/1e6, "sys-ms/op")
	}
}

// BenchmarkRestart10k is N3 as a restart meets it: a new proxier takes
// over the table (10k Services, 4 endpoints each) left by the last one.
func BenchmarkRestart10k(b *testing.B) {
	p := benchProxier(b)
	svcs := scaleServices(10000, 4)
	if err := p.Sync(svcs); err != nil {
		b.Fatal(err)
	}
	defer reportCPU(b)()
	for b.Loop() {
		q, err := New(p.cfg, p.log)
		if err != nil {
			b.Fatal(err)
		}
		if err := q.Sync(svcs); err != nil {
			b.Fatal(err)
		}
		if st := q.LastSync(); !st.Adopted || st.Ops != 0 {
			b.Fatalf("not adopted unchanged: %+v", st)
		}
		_ = q.Close()
	}
}
