package dns

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"kserver.dev/kserver/internal/dns/resolvconf"
)

// TestForwarding sends names outside the cluster to a fake upstream on
// loopback: answers pass through with the client's ID and the upstream's
// flags, repeated questions are answered from the cache, and a dead
// upstream gives SERVFAIL.
func TestForwarding(t *testing.T) {
	up := startUpstream(t)
	s := newFixtureServer(t, up.addr)
	addr := runServer(t, s)

	q := new(mdns.Msg).SetQuestion("www.example.com.", mdns.TypeA)
	r := exchange(t, "udp", addr, q)
	if got := rrs(r.Answer); len(got) != 1 || got[0] != "www.example.com. 300 IN A 192.0.2.53" {
		t.Fatalf("forwarded answer %q", got)
	}
	if r.Id != q.Id || !r.RecursionAvailable || r.Authoritative {
		t.Errorf("reply id %d (query %d), ra=%v aa=%v", r.Id, q.Id, r.RecursionAvailable, r.Authoritative)
	}
	before := up.queries.Load()
	for _, net := range []string{"udp", "tcp"} {
		if r := exchange(t, net, addr, new(mdns.Msg).SetQuestion("WWW.example.com.", mdns.TypeA)); len(r.Answer) != 1 {
			t.Errorf("%s from cache: %v", net, r)
		}
	}
	if n := up.queries.Load() - before; n != 0 {
		t.Errorf("upstream asked %d more times, want answers from the cache", n)
	}

	// NXDOMAIN passes through, with the upstream's SOA, and is cached too.
	nx := exchange(t, "udp", addr, new(mdns.Msg).SetQuestion("nope.example.com.", mdns.TypeA))
	if nx.Rcode != mdns.RcodeNameError || len(nx.Ns) != 1 {
		t.Errorf("NXDOMAIN from upstream: %v", nx)
	}
	before = up.queries.Load()
	exchange(t, "udp", addr, new(mdns.Msg).SetQuestion("nope.example.com.", mdns.TypeA))
	if n := up.queries.Load() - before; n != 0 {
		t.Errorf("negative answer not cached: upstream asked %d more times", n)
	}

	// A big answer: truncated over UDP, whole over TCP (the client's retry).
	big := new(mdns.Msg).SetQuestion("big.example.com.", mdns.TypeTXT)
	if r := exchange(t, "udp", addr, big); !r.Truncated {
		t.Errorf("big answer over UDP not truncated: %d records", len(r.Answer))
	}
	if r := exchange(t, "tcp", addr, big); r.Truncated || len(r.Answer) != 60 {
		t.Errorf("big answer over TCP: tc=%v with %d records, want 60", r.Truncated, len(r.Answer))
	}
	// Now cached from the TCP answer, and still too big for 512 bytes.
	if r := exchange(t, "udp", addr, big); !r.Truncated || wireLen(r) > 512 {
		t.Errorf("cached big answer over UDP: tc=%v, %d bytes", r.Truncated, wireLen(r))
	}

	// The upstream saw each question as asked.
	up.mu.Lock()
	names := slices.Clone(up.names)
	up.mu.Unlock()
	if !slices.Contains(names, "www.example.com. A") || !slices.Contains(names, "big.example.com. TXT") {
		t.Errorf("upstream saw %q", names)
	}
}

func TestForwardFailure(t *testing.T) {
	s := newFixtureServer(t, "") // upstream 127.0.0.1:1, where nothing listens
	addr := runServer(t, s)
	start := time.Now()
	r := exchange(t, "udp", addr, new(mdns.Msg).SetQuestion("www.example.com.", mdns.TypeA))
	if r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("dead upstream: rcode %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("SERVFAIL took %s", d)
	}
	// Cluster names do not depend on the upstream.
	if r := exchange(t, "udp", addr, new(mdns.Msg).SetQuestion("web.default.svc.cluster.local.", mdns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("cluster name with a dead upstream: %v", r)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpstreams: the node's resolvers, skipping loopback stubs when
// systemd-resolved's real upstream file exists, and never the server's own
// address.
func TestUpstreams(t *testing.T) {
	dir := t.TempDir()
	stub := writeFile(t, dir, "stub.conf", "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n")
	real := writeFile(t, dir, "real.conf", "# systemd-resolved\nnameserver 192.0.2.1\nnameserver 2001:db8::1\n")
	plain := writeFile(t, dir, "plain.conf", "nameserver 192.0.2.7\n")
	local := writeFile(t, dir, "local.conf", "nameserver 127.0.0.1\nnameserver 127.0.0.53\n")
	missing := filepath.Join(dir, "missing.conf")
	tests := []struct {
		name   string
		files  resolvconf.Files
		listen []string
		want   []string
	}{
		{"global unicast host file", resolvconf.Files{Host: plain, Systemd: real}, nil, []string{"192.0.2.7:53"}},
		{"stub host file, real upstream file", resolvconf.Files{Host: stub, Systemd: real}, nil, []string{"192.0.2.1:53", "[2001:db8::1]:53"}},
		{"stub only: reachable from the node", resolvconf.Files{Host: stub, Systemd: missing}, nil, []string{"127.0.0.53:53"}},
		{"own address skipped", resolvconf.Files{Host: local, Systemd: missing}, []string{"127.0.0.1:53"}, []string{"127.0.0.53:53"}},
		{"wildcard listener owns loopback", resolvconf.Files{Host: local, Systemd: missing}, []string{":53"}, []string{}},
		{"other port is not ours", resolvconf.Files{Host: local, Systemd: missing}, []string{"0.0.0.0:5353"}, []string{"127.0.0.1:53", "127.0.0.53:53"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Upstreams(tt.files, tt.listen)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, _, err := Upstreams(resolvconf.Files{Host: missing, Systemd: missing}, nil); err == nil {
		t.Error("no resolver file: want an error")
	}
}

// TestUpstreamReload: a changed resolver file is read again.
func TestUpstreamReload(t *testing.T) {
	dir := t.TempDir()
	host := writeFile(t, dir, "resolv.conf", "nameserver 192.0.2.1\n")
	f := newForwarder(Config{ResolvFiles: resolvconf.Files{Host: host, Systemd: filepath.Join(dir, "none")}}.withDefaults(), quietLogger())
	f.load()
	if got := f.list(); !slices.Equal(got, []string{"192.0.2.1:53"}) {
		t.Fatalf("first read: %q", got)
	}
	writeFile(t, dir, "resolv.conf", "nameserver 192.0.2.2\n")
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(host, later, later); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.checked = time.Time{} // due for a look
	f.mu.Unlock()
	if got := f.list(); !slices.Equal(got, []string{"192.0.2.2:53"}) {
		t.Errorf("after the file changed: %q", got)
	}
	// A failed upstream is tried last.
	f.cfg.Upstreams = []string{"192.0.2.1", "192.0.2.2"}
	f.load()
	f.markFailed("192.0.2.1:53")
	for range 10 {
		if got := f.list(); got[0] != "192.0.2.2:53" {
			t.Fatalf("failed upstream first: %q", got)
		}
	}
}
