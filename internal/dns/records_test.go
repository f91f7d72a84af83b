package dns

import (
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

const (
	noErr  = mdns.RcodeSuccess
	nxdom  = mdns.RcodeNameError
	refuse = mdns.RcodeRefused
)

// TestClusterRecords asks the fixture cluster for every kind of record and
// for names that do not exist, and checks rcode, answer and additional
// sections exactly. Negative answers (no records) must carry the zone's SOA.
func TestClusterRecords(t *testing.T) {
	up := startUpstream(t)
	s := newFixtureServer(t, up.addr)
	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
	}{
		// Services with a ClusterIP.
		{"web.default.svc.cluster.local.", mdns.TypeA, noErr, []string{"web.default.svc.cluster.local. 5 IN A 10.43.0.20"}, nil},
		{"web.default.svc.cluster.local.", mdns.TypeAAAA, noErr, nil, nil},
		{"WEB.Default.svc.Cluster.Local.", mdns.TypeA, noErr, []string{"WEB.Default.svc.Cluster.Local. 5 IN A 10.43.0.20"}, nil},
		{"dual.default.svc.cluster.local.", mdns.TypeA, noErr, []string{"dual.default.svc.cluster.local. 5 IN A 10.43.0.21"}, nil},
		{"dual.default.svc.cluster.local.", mdns.TypeAAAA, noErr, []string{"dual.default.svc.cluster.local. 5 IN AAAA fd00:43::21"}, nil},
		{"kube-dns.kube-system.svc.cluster.local.", mdns.TypeA, noErr, []string{"kube-dns.kube-system.svc.cluster.local. 5 IN A 10.43.0.10"}, nil},
		// SRV for named ports, with and without the underscores.
		{"_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV, noErr,
			[]string{"_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local."},
			[]string{"web.default.svc.cluster.local. 5 IN A 10.43.0.20"}},
		{"_dns._udp.web.default.svc.cluster.local.", mdns.TypeSRV, noErr,
			[]string{"_dns._udp.web.default.svc.cluster.local. 5 IN SRV 0 100 53 web.default.svc.cluster.local."},
			[]string{"web.default.svc.cluster.local. 5 IN A 10.43.0.20"}},
		{"http.tcp.web.default.svc.cluster.local.", mdns.TypeSRV, noErr,
			[]string{"http.tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local."},
			[]string{"web.default.svc.cluster.local. 5 IN A 10.43.0.20"}},
		{"_http._udp.web.default.svc.cluster.local.", mdns.TypeSRV, nxdom, nil, nil},
		{"_nope._tcp.web.default.svc.cluster.local.", mdns.TypeSRV, nxdom, nil, nil},
		{"_http._tcp.web.default.svc.cluster.local.", mdns.TypeA, noErr, []string{"_http._tcp.web.default.svc.cluster.local. 5 IN A 10.43.0.20"}, nil},
		{"web.default.svc.cluster.local.", mdns.TypeSRV, noErr,
			[]string{"web.default.svc.cluster.local. 5 IN SRV 0 50 53 web.default.svc.cluster.local.",
				"web.default.svc.cluster.local. 5 IN SRV 0 50 80 web.default.svc.cluster.local."},
			[]string{"web.default.svc.cluster.local. 5 IN A 10.43.0.20"}},
		{"_http._tcp.dual.default.svc.cluster.local.", mdns.TypeSRV, noErr,
			[]string{"_http._tcp.dual.default.svc.cluster.local. 5 IN SRV 0 50 80 dual.default.svc.cluster.local."},
			[]string{"dual.default.svc.cluster.local. 5 IN A 10.43.0.21", "dual.default.svc.cluster.local. 5 IN AAAA fd00:43::21"}},
		// An endpoint of a Service with a ClusterIP, by its dashed address.
		{"10-42-0-20.web.default.svc.cluster.local.", mdns.TypeA, noErr, []string{"10-42-0-20.web.default.svc.cluster.local. 5 IN A 10.42.0.20"}, nil},
		{"10-42-0-21.web.default.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		// Headless: ready endpoints only; StatefulSet-style hostnames.
		{"nginx.default.svc.cluster.local.", mdns.TypeA, noErr,
			[]string{"nginx.default.svc.cluster.local. 5 IN A 10.42.0.5", "nginx.default.svc.cluster.local. 5 IN A 10.42.1.6"}, nil},
		{"nginx.default.svc.cluster.local.", mdns.TypeAAAA, noErr, nil, nil},
		{"web-0.nginx.default.svc.cluster.local.", mdns.TypeA, noErr, []string{"web-0.nginx.default.svc.cluster.local. 5 IN A 10.42.0.5"}, nil},
		{"WEB-1.nginx.default.svc.cluster.local.", mdns.TypeA, noErr, []string{"WEB-1.nginx.default.svc.cluster.local. 5 IN A 10.42.1.6"}, nil},
		{"web-2.nginx.default.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		{"10-42-0-5.nginx.default.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil}, // has a hostname
		{"_web._tcp.nginx.default.svc.cluster.local.", mdns.TypeSRV, noErr,
			[]string{"_web._tcp.nginx.default.svc.cluster.local. 5 IN SRV 0 50 80 web-0.nginx.default.svc.cluster.local.",
				"_web._tcp.nginx.default.svc.cluster.local. 5 IN SRV 0 50 80 web-1.nginx.default.svc.cluster.local."},
			[]string{"web-0.nginx.default.svc.cluster.local. 5 IN A 10.42.0.5", "web-1.nginx.default.svc.cluster.local. 5 IN A 10.42.1.6"}},
		{"web-0.nginx.default.svc.cluster.local.", mdns.TypeSRV, noErr,
			[]string{"web-0.nginx.default.svc.cluster.local. 5 IN SRV 0 100 80 web-0.nginx.default.svc.cluster.local."},
			[]string{"web-0.nginx.default.svc.cluster.local. 5 IN A 10.42.0.5"}},
		{"_web._tcp.web-0.nginx.default.svc.cluster.local.", mdns.TypeSRV, nxdom, nil, nil}, // too many labels
		{"pub.default.svc.cluster.local.", mdns.TypeA, noErr, []string{"pub.default.svc.cluster.local. 5 IN A 10.42.3.8"}, nil},
		{"lonely.default.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil}, // headless, no endpoints
		{"noports.default.svc.cluster.local.", mdns.TypeA, noErr, []string{"noports.default.svc.cluster.local. 5 IN A 10.42.4.9"}, nil},
		{"noports.default.svc.cluster.local.", mdns.TypeSRV, noErr, nil, nil},
		{"h6.default.svc.cluster.local.", mdns.TypeAAAA, noErr, []string{"h6.default.svc.cluster.local. 5 IN AAAA fd00:42::5"}, nil},
		{"fd00-42--5.h6.default.svc.cluster.local.", mdns.TypeAAAA, noErr, []string{"fd00-42--5.h6.default.svc.cluster.local. 5 IN AAAA fd00:42::5"}, nil},
		// ExternalName: a CNAME, its target resolved upstream or in the zone.
		{"ext.default.svc.cluster.local.", mdns.TypeA, noErr,
			[]string{"ext.default.svc.cluster.local. 5 IN CNAME www.example.com.", "www.example.com. 300 IN A 192.0.2.53"}, nil},
		{"ext.default.svc.cluster.local.", mdns.TypeAAAA, noErr,
			[]string{"ext.default.svc.cluster.local. 5 IN CNAME www.example.com.", "www.example.com. 300 IN AAAA 2001:db8::53"}, nil},
		{"ext.default.svc.cluster.local.", mdns.TypeCNAME, noErr, []string{"ext.default.svc.cluster.local. 5 IN CNAME www.example.com."}, nil},
		{"ext.default.svc.cluster.local.", mdns.TypeSRV, noErr, nil, nil},
		{"_http._tcp.ext.default.svc.cluster.local.", mdns.TypeSRV, nxdom, nil, nil},
		{"ext-in.default.svc.cluster.local.", mdns.TypeA, noErr,
			[]string{"ext-in.default.svc.cluster.local. 5 IN CNAME web.default.svc.cluster.local.", "web.default.svc.cluster.local. 5 IN A 10.43.0.20"}, nil},
		{"ext-ip.default.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		{"ext-loop.default.svc.cluster.local.", mdns.TypeA, noErr, nil, nil},
		{"web.default.svc.cluster.local.", mdns.TypeCNAME, noErr, nil, nil},
		// Pods (insecure mode: any address in an existing namespace).
		{"10-42-0-99.default.pod.cluster.local.", mdns.TypeA, noErr, []string{"10-42-0-99.default.pod.cluster.local. 5 IN A 10.42.0.99"}, nil},
		{"10-42-0-99.default.pod.cluster.local.", mdns.TypeAAAA, noErr, nil, nil},
		{"fd00-42--5.default.pod.cluster.local.", mdns.TypeAAAA, noErr, []string{"fd00-42--5.default.pod.cluster.local. 5 IN AAAA fd00:42::5"}, nil},
		{"10-42-0-99.nowhere.pod.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		{"not-an-ip.default.pod.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		{"default.pod.cluster.local.", mdns.TypeA, noErr, nil, nil},
		// Names that exist without records, and names that do not exist.
		{"cluster.local.", mdns.TypeA, noErr, nil, nil},
		{"svc.cluster.local.", mdns.TypeA, noErr, nil, nil},
		{"pod.cluster.local.", mdns.TypeA, noErr, nil, nil},
		{"default.svc.cluster.local.", mdns.TypeA, noErr, nil, nil},
		{"empty.svc.cluster.local.", mdns.TypeA, noErr, nil, nil},
		{"nowhere.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		{"missing.default.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		{"web.nowhere.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		{"foo.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		{"foo.Cluster.Local.", mdns.TypeA, nxdom, nil, nil},
		{"a.b.c.web.default.svc.cluster.local.", mdns.TypeA, nxdom, nil, nil},
		// Other types, as CoreDNS answers them.
		{"cluster.local.", mdns.TypeSOA, noErr,
			[]string{"cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 5"}, nil},
		{"web.default.svc.cluster.local.", mdns.TypeSOA, noErr, nil, nil},
		{"foo.cluster.local.", mdns.TypeSOA, noErr, nil, nil},
		{"cluster.local.", mdns.TypeNS, noErr, []string{"cluster.local. 5 IN NS ns.dns.cluster.local."},
			[]string{"ns.dns.cluster.local. 5 IN A 10.43.0.10"}},
		{"ns.dns.cluster.local.", mdns.TypeA, noErr, []string{"ns.dns.cluster.local. 5 IN A 10.43.0.10"}, nil},
		{"web.default.svc.cluster.local.", mdns.TypeNS, noErr, nil, nil},
		{"dns-version.cluster.local.", mdns.TypeTXT, noErr, []string{`dns-version.cluster.local. 28800 IN TXT "1.1.0"`}, nil},
		{"web.default.svc.cluster.local.", mdns.TypeTXT, noErr, nil, nil},
		{"default.svc.cluster.local.", mdns.TypeTXT, nxdom, nil, nil},
		{"missing.default.svc.cluster.local.", mdns.TypeTXT, nxdom, nil, nil},
		{"web.default.svc.cluster.local.", mdns.TypeMX, noErr, nil, nil},
		{"missing.default.svc.cluster.local.", mdns.TypeMX, nxdom, nil, nil},
		{"web.default.svc.cluster.local.", mdns.TypeHINFO, noErr, nil, nil},
		{"missing.default.svc.cluster.local.", mdns.TypeHINFO, nxdom, nil, nil},
		{"web.default.svc.cluster.local.", mdns.TypePTR, noErr, nil, nil},
		{"missing.default.svc.cluster.local.", mdns.TypePTR, nxdom, nil, nil},
		{"cluster.local.", mdns.TypeAXFR, refuse, nil, nil},
		// Reverse lookups of Service and endpoint addresses.
		{"20.0.43.10.in-addr.arpa.", mdns.TypePTR, noErr, []string{"20.0.43.10.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local."}, nil},
		{"10.0.43.10.in-addr.arpa.", mdns.TypePTR, noErr, []string{"10.0.43.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.cluster.local."}, nil},
		{"5.0.42.10.in-addr.arpa.", mdns.TypePTR, noErr, []string{"5.0.42.10.in-addr.arpa. 5 IN PTR web-0.nginx.default.svc.cluster.local."}, nil},
		{"20.0.42.10.in-addr.arpa.", mdns.TypePTR, noErr, []string{"20.0.42.10.in-addr.arpa. 5 IN PTR 10-42-0-20.web.default.svc.cluster.local."}, nil},
		{"8.3.42.10.in-addr.arpa.", mdns.TypePTR, noErr, []string{"8.3.42.10.in-addr.arpa. 5 IN PTR 10-42-3-8.pub.default.svc.cluster.local."}, nil},
		{"1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa.", mdns.TypePTR, noErr,
			[]string{"1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa. 5 IN PTR dual.default.svc.cluster.local."}, nil},
		{"5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.4.0.0.0.0.d.f.ip6.arpa.", mdns.TypePTR, noErr,
			[]string{"5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.4.0.0.0.0.d.f.ip6.arpa. 5 IN PTR fd00-42--5.h6.default.svc.cluster.local."}, nil},
		// Not ready, not published: no reverse record; unknown addresses go upstream.
		{"7.2.42.10.in-addr.arpa.", mdns.TypePTR, nxdom, nil, nil},
		{"9.9.9.10.in-addr.arpa.", mdns.TypePTR, noErr, []string{"9.9.9.10.in-addr.arpa. 300 IN PTR upstream.example.com."}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+mdns.TypeToString[tt.qtype], func(t *testing.T) {
			m := query(t, s, tt.name, tt.qtype)
			if m.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s\n%v", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tt.rcode], m)
			}
			got := rrs(m.Answer)
			for i, rr := range m.Answer {
				if soa, ok := rr.(*mdns.SOA); ok && soa.Serial == s.idx.serial.Load() {
					got[i] = replaceSerial(got[i], soa.Serial)
				}
			}
			if !slices.Equal(got, sorted(tt.answer)) {
				t.Errorf("answer:\n got %q\nwant %q", got, sorted(tt.answer))
			}
			if got := rrs(m.Extra); !slices.Equal(got, sorted(tt.extra)) {
				t.Errorf("additional:\n got %q\nwant %q", got, sorted(tt.extra))
			}
			clusterName := inZone(tt.name, "cluster.local")
			if clusterName && tt.rcode != refuse && !m.Authoritative {
				t.Error("cluster answer is not authoritative")
			}
			negative := len(tt.answer) == 0 && tt.rcode != refuse
			if negative && clusterName {
				if len(m.Ns) != 1 {
					t.Fatalf("negative answer has %d authority records, want the zone's SOA", len(m.Ns))
				}
				soa, ok := m.Ns[0].(*mdns.SOA)
				zone := tt.name[len(tt.name)-len("cluster.local."):] // as the query wrote it
				if !ok || soa.Hdr.Name != zone || soa.Minttl != 5 || soa.Hdr.Ttl != 5 ||
					soa.Ns != "ns.dns."+zone || soa.Mbox != "hostmaster."+zone || soa.Serial != s.idx.serial.Load() {
					t.Errorf("authority: %v", m.Ns[0])
				}
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func replaceSerial(line string, serial uint32) string {
	return replaceField(line, 6, "SERIAL", serial)
}
