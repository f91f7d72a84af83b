package dns

import (
	"context"
	"testing"

	mdns "github.com/miekg/dns"
)

// BenchmarkAnswer measures the server's own work per cluster query: parse,
// index lookup, records, EDNS and size fitting, packing.
func BenchmarkAnswer(b *testing.B) {
	s := newFixtureServerB(b)
	qs := []*mdns.Msg{
		new(mdns.Msg).SetQuestion("web.default.svc.cluster.local.", mdns.TypeA),
		new(mdns.Msg).SetQuestion("nginx.default.svc.cluster.local.", mdns.TypeA),
		new(mdns.Msg).SetQuestion("_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV),
		new(mdns.Msg).SetQuestion("missing.default.svc.cluster.local.", mdns.TypeA),
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := qs[i%len(qs)]
		m := s.reply(ctx, r, false)
		fitReply(r, m, false)
		if _, err := m.Pack(); err != nil {
			b.Fatal(err)
		}
	}
}
