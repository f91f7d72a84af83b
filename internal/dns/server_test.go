package dns

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func tombstone(o any) any { return cache.DeletedFinalStateUnknown{Key: "x", Obj: o} }

// runServer runs s until the test ends and returns its address.
func runServer(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("server exited: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server not listening after 5s")
	}
	return s.Addrs()[0].String()
}

func exchange(t *testing.T, net, addr string, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: net, Timeout: 5 * time.Second, UDPSize: mdns.MaxMsgSize}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", net, m.Question[0].Name, err)
	}
	return r
}

func TestServeUDPAndTCP(t *testing.T) {
	s := newFixtureServer(t, "")
	addr := runServer(t, s)
	for _, net := range []string{"udp", "tcp"} {
		r := exchange(t, net, addr, new(mdns.Msg).SetQuestion("web.default.svc.cluster.local.", mdns.TypeA))
		if got := rrs(r.Answer); len(got) != 1 || got[0] != "web.default.svc.cluster.local. 5 IN A 10.43.0.20" {
			t.Errorf("%s: answer %q", net, got)
		}
		if !r.Authoritative || r.RecursionAvailable || r.Truncated {
			t.Errorf("%s: flags aa=%v ra=%v tc=%v, want aa only", net, r.Authoritative, r.RecursionAvailable, r.Truncated)
		}
	}
}

// bigHeadless adds a headless Service with n ready endpoints.
func bigHeadless(s *Server, n int) {
	s.onService(svc("default", "big", all(headless, withPorts(tcp("web", 80)))), true)
	var list []ep
	for i := range n {
		list = append(list, ep{addr: fmt.Sprintf("10.42.%d.%d", i/250, i%250+1), ready: yes})
	}
	s.onSlice(eps("default", "big", "big-1", discoveryv1.AddressTypeIPv4,
		[]discoveryv1.EndpointPort{slicePort("web", corev1.ProtocolTCP, 80)}, list...), true)
}

// TestTruncation: an answer too big for a UDP datagram comes back with TC
// set and fits the client's buffer; over TCP, or with a large enough EDNS
// buffer, it comes whole.
func TestTruncation(t *testing.T) {
	s := newFixtureServer(t, "")
	bigHeadless(s, 100) // 100 A records: ~1.7 KB compressed
	addr := runServer(t, s)
	q := new(mdns.Msg).SetQuestion("big.default.svc.cluster.local.", mdns.TypeA)

	udp := exchange(t, "udp", addr, q)
	if !udp.Truncated || len(udp.Answer) == 0 || len(udp.Answer) >= 100 {
		t.Errorf("UDP without EDNS: tc=%v with %d answers, want tc and a partial answer", udp.Truncated, len(udp.Answer))
	}
	if n := wireLen(udp); n > 512 {
		t.Errorf("UDP reply is %d bytes, over 512", n)
	}
	tcp := exchange(t, "tcp", addr, q)
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("TCP: tc=%v with %d answers, want 100", tcp.Truncated, len(tcp.Answer))
	}
	e := q.Copy()
	e.SetEdns0(4096, false)
	edns := exchange(t, "udp", addr, e)
	if edns.Truncated || len(edns.Answer) != 100 {
		t.Errorf("UDP with a 4096-byte EDNS buffer: tc=%v with %d answers, want 100", edns.Truncated, len(edns.Answer))
	}
	if o := edns.IsEdns0(); o == nil || o.UDPSize() != 4096 || o.Version() != 0 {
		t.Errorf("reply EDNS record: %v", o)
	}
	small := q.Copy()
	small.SetEdns0(1232, false)
	if r := exchange(t, "udp", addr, small); !r.Truncated || wireLen(r) > 1232 {
		t.Errorf("UDP with a 1232-byte buffer: tc=%v, %d bytes", r.Truncated, wireLen(r))
	}
}

// wireLen is the size of m as sent (compressed).
func wireLen(m *mdns.Msg) int {
	c := m.Copy()
	c.Compress = true
	return c.Len()
}

func TestEDNS(t *testing.T) {
	s := newFixtureServer(t, "")
	addr := runServer(t, s)
	q := new(mdns.Msg).SetQuestion("web.default.svc.cluster.local.", mdns.TypeA)
	q.SetEdns0(1232, true)
	r := exchange(t, "udp", addr, q)
	if o := r.IsEdns0(); o == nil || !o.Do() || o.UDPSize() != 1232 {
		t.Errorf("EDNS record of the reply: %v, want version 0, size 1232, DO", o)
	}
	if r.IsEdns0() == nil || len(r.Answer) != 1 {
		t.Errorf("answer %v", r)
	}
	plain := exchange(t, "udp", addr, new(mdns.Msg).SetQuestion("web.default.svc.cluster.local.", mdns.TypeA))
	if plain.IsEdns0() != nil {
		t.Error("a reply to a query without EDNS has an OPT record")
	}
	v1 := new(mdns.Msg).SetQuestion("web.default.svc.cluster.local.", mdns.TypeA)
	v1.SetEdns0(1232, false)
	v1.IsEdns0().SetVersion(1)
	if r := exchange(t, "udp", addr, v1); r.Rcode != mdns.RcodeBadVers || len(r.Answer) != 0 {
		t.Errorf("EDNS version 1: rcode %s, want BADVERS", mdns.RcodeToString[r.Rcode])
	}
}

// TestNotSynced: before the informers have listed, a cluster name not
// found is SERVFAIL (the answer may be unknown yet), not NXDOMAIN.
func TestNotSynced(t *testing.T) {
	s := newFixtureServer(t, "")
	synced := false
	m := query(t, s, "missing.default.svc.cluster.local.", mdns.TypeA)
	if m.Rcode != mdns.RcodeNameError {
		t.Fatalf("without informers (fixture): rcode %s", mdns.RcodeToString[m.Rcode])
	}
	s.informed, s.synced = true, []cache.InformerSynced{func() bool { return synced }}
	if m := query(t, s, "missing.default.svc.cluster.local.", mdns.TypeA); m.Rcode != mdns.RcodeServerFailure {
		t.Errorf("not synced: rcode %s, want SERVFAIL", mdns.RcodeToString[m.Rcode])
	}
	if m := query(t, s, "web.default.svc.cluster.local.", mdns.TypeA); m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 {
		t.Errorf("not synced, known name: %v", m)
	}
	synced = true
	if m := query(t, s, "missing.default.svc.cluster.local.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Errorf("synced: rcode %s, want NXDOMAIN", mdns.RcodeToString[m.Rcode])
	}
}

// TestIndexFollowsEvents: updates and deletions change answers, and the
// reverse index forgets what is gone.
func TestIndexFollowsEvents(t *testing.T) {
	s := newFixtureServer(t, "")
	answers := func(name string, qtype uint16) []string { return rrs(query(t, s, name, qtype).Answer) }

	// A new ClusterIP (the Service was recreated): old reverse entry gone.
	s.onService(svc("default", "web", all(clusterIP("10.43.0.99"), withPorts(tcp("http", 80)))), true)
	if got := answers("web.default.svc.cluster.local.", mdns.TypeA); len(got) != 1 || got[0] != "web.default.svc.cluster.local. 5 IN A 10.43.0.99" {
		t.Errorf("after update: %q", got)
	}
	if m := query(t, s, "20.0.43.10.in-addr.arpa.", mdns.TypePTR); m.Rcode != mdns.RcodeServerFailure || len(m.Answer) != 0 {
		t.Errorf("old ClusterIP still has a PTR (or was not forwarded): %v", m)
	}
	// An endpoint becomes ready; another goes away.
	s.onSlice(eps("default", "nginx", "nginx-abc", discoveryv1.AddressTypeIPv4,
		[]discoveryv1.EndpointPort{slicePort("web", corev1.ProtocolTCP, 80)},
		ep{"10.42.0.5", "web-0", yes}, ep{"10.42.2.7", "web-2", yes}), true)
	if got := answers("web-2.nginx.default.svc.cluster.local.", mdns.TypeA); len(got) != 1 {
		t.Errorf("web-2 after it became ready: %q", got)
	}
	if m := query(t, s, "web-1.nginx.default.svc.cluster.local.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Errorf("web-1 after it left: rcode %s", mdns.RcodeToString[m.Rcode])
	}
	if got := s.reverse(netip.MustParseAddr("10.42.1.6")); len(got) != 0 {
		t.Errorf("reverse of a removed endpoint: %q", got)
	}
	// publishNotReadyAddresses switched off: the not-ready address goes.
	s.onService(svc("default", "pub", all(headless, withPorts(tcp("web", 80)))), true)
	if m := query(t, s, "pub.default.svc.cluster.local.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Errorf("pub without publishNotReadyAddresses: rcode %s", mdns.RcodeToString[m.Rcode])
	}
	if got := s.reverse(netip.MustParseAddr("10.42.3.8")); len(got) != 0 {
		t.Errorf("reverse of an unpublished endpoint: %q", got)
	}
	// Service and slice deleted (a tombstone for the slice).
	s.onService(svc("default", "nginx", headless), false)
	s.onSlice(tombstone(eps("default", "nginx", "nginx-abc", discoveryv1.AddressTypeIPv4, nil)), false)
	if m := query(t, s, "nginx.default.svc.cluster.local.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Errorf("deleted service: rcode %s", mdns.RcodeToString[m.Rcode])
	}
	if _, ok := s.idx.entries[svcKey{"default", "nginx"}]; ok {
		t.Error("deleted service and slice still indexed")
	}
	if _, ok := s.idx.entries[svcKey{"default", "web"}]; !ok {
		t.Error("other services dropped")
	}
	// Namespace deleted: its names are gone.
	s.onNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "empty"}}, false)
	if m := query(t, s, "empty.svc.cluster.local.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Errorf("deleted namespace: rcode %s", mdns.RcodeToString[m.Rcode])
	}
}
