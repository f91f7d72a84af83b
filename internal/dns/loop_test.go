package dns

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"kserver.dev/kserver/internal/dns/resolvconf"
)

// blackHole is an upstream that reads queries and never answers, on UDP
// and TCP; it counts the queries other than loop probes.
type blackHole struct {
	addr    string
	queries atomic.Int32
}

func startBlackHole(t *testing.T) *blackHole {
	t.Helper()
	h := &blackHole{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = pc.LocalAddr().String()
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			h.count(buf[:n])
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				for {
					var n [2]byte
					if _, err := io.ReadFull(c, n[:]); err != nil {
						return
					}
					buf := make([]byte, int(n[0])<<8|int(n[1]))
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					h.count(buf)
				}
			}()
		}
	}()
	return h
}

func (h *blackHole) count(b []byte) {
	m := new(mdns.Msg)
	if m.Unpack(b) == nil && len(m.Question) == 1 && m.Question[0].Qtype != mdns.TypeHINFO {
		h.queries.Add(1)
	}
}

func forwardingServer(t *testing.T, timeout time.Duration, upstreams ...string) (*Server, string) {
	t.Helper()
	s, err := newServer(Config{Listen: []string{"127.0.0.1:0"}, Upstreams: upstreams, ForwardTimeout: timeout}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	return s, runServer(t, s)
}

// TestForwardNextUpstream: an upstream that does not answer is given up
// after the per-upstream timeout and the next one answers; it is then
// tried last, so later queries do not wait for it.
func TestForwardNextUpstream(t *testing.T) {
	hole, up := startBlackHole(t), startUpstream(t)
	const timeout = 300 * time.Millisecond
	_, addr := forwardingServer(t, timeout, hole.addr, up.addr)
	i := 0
	for ; hole.queries.Load() == 0; i++ {
		if i == 30 { // the order is random: 2^-30 to miss the hole every time
			t.Fatal("the unanswering upstream was never tried")
		}
		start := time.Now()
		r := exchange(t, "udp", addr, new(mdns.Msg).SetQuestion(fmt.Sprintf("n%d.example.com.", i), mdns.TypeA))
		if r.Rcode != mdns.RcodeNameError || len(r.Ns) != 1 {
			t.Fatalf("query %d: want the answering upstream's NXDOMAIN, got %v", i, r)
		}
		if d := time.Since(start); d > timeout+2*time.Second {
			t.Fatalf("query %d took %s with a %s per-upstream timeout", i, d, timeout)
		}
	}
	holeSeen, upSeen := hole.queries.Load(), up.queries.Load()
	if upSeen != int32(i) {
		t.Errorf("answering upstream saw %d queries, want %d", upSeen, i)
	}
	for j := range 5 {
		r := exchange(t, "udp", addr, new(mdns.Msg).SetQuestion(fmt.Sprintf("m%d.example.com.", j), mdns.TypeA))
		if r.Rcode != mdns.RcodeNameError {
			t.Fatalf("after the timeout: %v", r)
		}
	}
	if n := hole.queries.Load(); n != holeSeen {
		t.Errorf("the failed upstream was asked %d more times, want it tried last", n-holeSeen)
	}
}

// TestForwardAllFail: when no upstream answers the client gets SERVFAIL
// once each has had its timeout, over UDP and TCP, not silence.
func TestForwardAllFail(t *testing.T) {
	h1, h2 := startBlackHole(t), startBlackHole(t)
	const timeout = 300 * time.Millisecond
	_, addr := forwardingServer(t, timeout, h1.addr, h2.addr)
	for _, proto := range []string{"udp", "tcp"} {
		start := time.Now()
		r := exchange(t, proto, addr, new(mdns.Msg).SetQuestion("www."+proto+".example.com.", mdns.TypeA))
		if r.Rcode != mdns.RcodeServerFailure {
			t.Errorf("%s: rcode %s, want SERVFAIL", proto, mdns.RcodeToString[r.Rcode])
		}
		if d := time.Since(start); d > queryTimeout-time.Second {
			t.Errorf("%s: SERVFAIL after %s, want about 2×%s", proto, d, timeout)
		}
	}
	if h1.queries.Load() != 2 || h2.queries.Load() != 2 {
		t.Errorf("upstreams asked %d and %d times, want each once per query", h1.queries.Load(), h2.queries.Load())
	}
}

// TestForwardTruncated: an upstream whose UDP answer is truncated (here,
// empty with TC set) is asked again over TCP; the client gets every
// record its buffer holds, and the whole answer when it fits.
func TestForwardTruncated(t *testing.T) {
	up := serveUpstream(t, &fakeUpstream{emptyTC: true})
	_, addr := forwardingServer(t, time.Second, up.addr)

	q := new(mdns.Msg).SetQuestion("big.example.com.", mdns.TypeTXT)
	q.SetEdns0(4096, false)
	r := exchange(t, "udp", addr, q)
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("EDNS 4096 client over UDP: tc=%v, %d records, want all 60", r.Truncated, len(r.Answer))
	}
	if up.tcp.Load() != 1 {
		t.Errorf("upstream got %d TCP queries, want the one retry", up.tcp.Load())
	}
	// A client without EDNS (512 bytes) gets what fits, with TC, from the cache.
	r = exchange(t, "udp", addr, new(mdns.Msg).SetQuestion("big.example.com.", mdns.TypeTXT))
	if !r.Truncated || len(r.Answer) == 0 || wireLen(r) > 512 {
		t.Errorf("512-byte client: tc=%v, %d records, %d bytes; want TC with the records that fit", r.Truncated, len(r.Answer), wireLen(r))
	}
	if up.queries.Load() != 2 {
		t.Errorf("upstream got %d queries, want 2 (UDP, then TCP) and the rest from the cache", up.queries.Load())
	}
}

// loopingStub is a resolver that forwards every query to target — the
// cluster DNS server itself, as a node stub pointed at the node address
// would; it counts what it forwards.
type loopingStub struct {
	addr      string
	forwarded atomic.Int32
}

func startLoopingStub(t *testing.T, target *Server) *loopingStub {
	t.Helper()
	st := &loopingStub{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st.addr = pc.LocalAddr().String()
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		<-target.Ready()
		st.forwarded.Add(1)
		c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
		m, _, err := c.Exchange(r, target.Addrs()[0].String())
		if err != nil {
			m = new(mdns.Msg).SetRcode(r, mdns.RcodeServerFailure)
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return st
}

// TestForwardLoop: an upstream that sends forwarded queries back to the
// server is found by the loop probe and no longer used; queries go to the
// other upstream, and with no other upstream a query gets SERVFAIL at once
// instead of circling.
func TestForwardLoop(t *testing.T) {
	up := startUpstream(t)
	s, err := newServer(Config{Listen: []string{"127.0.0.1:0"}, ForwardTimeout: time.Second}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	stub := startLoopingStub(t, s)
	s.cfg.Upstreams = []string{stub.addr, up.addr}
	s.fwd.cfg.Upstreams = s.cfg.Upstreams
	addr := runServer(t, s)
	waitLooping(t, s, stub.addr)
	if got := s.fwd.list(); !slices.Equal(got, []string{up.addr}) {
		t.Fatalf("upstreams in use %q, want only %s", got, up.addr)
	}
	before := stub.forwarded.Load()
	for i := range 10 {
		r := exchange(t, "udp", addr, new(mdns.Msg).SetQuestion(fmt.Sprintf("l%d.example.com.", i), mdns.TypeA))
		if r.Rcode != mdns.RcodeNameError {
			t.Fatalf("query %d: %v", i, r)
		}
	}
	if n := stub.forwarded.Load() - before; n != 0 {
		t.Errorf("the looping upstream got %d queries after it was found", n)
	}

	// Only the looping upstream: SERVFAIL at once, and no chain of queries.
	s2, err := newServer(Config{Listen: []string{"127.0.0.1:0"}, ForwardTimeout: time.Second}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	stub2 := startLoopingStub(t, s2)
	s2.cfg.Upstreams = []string{stub2.addr}
	s2.fwd.cfg.Upstreams = s2.cfg.Upstreams
	addr2 := runServer(t, s2)
	waitLooping(t, s2, stub2.addr)
	start := time.Now()
	if r := exchange(t, "udp", addr2, new(mdns.Msg).SetQuestion("www.example.com.", mdns.TypeA)); r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("only a looping upstream: rcode %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("SERVFAIL took %s, want at once", d)
	}
	if n := stub2.forwarded.Load(); n > 2 {
		t.Errorf("the looping stub forwarded %d queries, want only the probe", n)
	}
}

func waitLooping(t *testing.T, s *Server, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		s.fwd.mu.Lock()
		found := s.fwd.looping[u]
		s.fwd.mu.Unlock()
		if found {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("loop through %s not detected", u)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestClusterDNSNotUpstream: a node whose resolv.conf names the cluster
// DNS Service address would send forwarded queries back to this server
// through the Service; that address is never an upstream.
func TestClusterDNSNotUpstream(t *testing.T) {
	dir := t.TempDir()
	host := writeFile(t, dir, "resolv.conf", "nameserver 10.43.0.10\nnameserver 192.0.2.9\n")
	f := newForwarder(Config{ClusterDNS: []netip.Addr{netip.MustParseAddr("10.43.0.10")},
		ResolvFiles: resolvconf.Files{Host: host, Systemd: dir + "/none"}}.withDefaults(), quietLogger())
	f.load()
	if got := f.list(); !slices.Equal(got, []string{"192.0.2.9:53"}) {
		t.Errorf("upstreams %q, want only 192.0.2.9:53", got)
	}
	// Only the cluster DNS in the host file: systemd-resolved's file is used.
	only := writeFile(t, dir, "only.conf", "nameserver 10.43.0.10\n")
	real := writeFile(t, dir, "real.conf", "nameserver 192.0.2.1\n")
	got, src, err := Upstreams(resolvconf.Files{Host: only, Systemd: real}, []string{"10.43.0.10:53"})
	if err != nil || !slices.Equal(got, []string{"192.0.2.1:53"}) || src != real {
		t.Errorf("got %q from %s (%v), want 192.0.2.1:53 from %s", got, src, err, real)
	}
}

// Only upstreams on this host are probed for loops: the probe never
// leaves the machine.
func TestLoopProbeStaysOnHost(t *testing.T) {
	local := map[netip.Addr]bool{netip.MustParseAddr("192.168.7.2"): true} // as if an interface had it
	for u, want := range map[string]bool{
		"127.0.0.53:53": true, "[::1]:53": true, "192.168.7.2:53": true,
		"192.168.7.3:53": false, "192.0.2.1:53": false, "[2001:db8::1]:53": false, "bogus": false,
	} {
		if got := onHost(u, local); got != want {
			t.Errorf("onHost(%s) = %v, want %v", u, got, want)
		}
	}
}
