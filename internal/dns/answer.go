package dns

import (
	"context"
	"math"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// maxCNAMEChain bounds how many ExternalName hops are followed inside the
// cluster zone.
const maxCNAMEChain = 10

// clusterAnswer is the answer to a question under the cluster zone:
// records, or an rcode with the zone's SOA in the authority section.
type clusterAnswer struct {
	rcode  int
	answer []mdns.RR
	extra  []mdns.RR
}

// answerCluster answers q, whose name is under the cluster zone; zone is
// the zone as the query wrote it. It follows CoreDNS's kubernetes plugin
// per type, including which names are NXDOMAIN and which are NODATA.
func (s *Server) answerCluster(ctx context.Context, q mdns.Question, zone string) clusterAnswer {
	base := relative(q.Name, zone)
	var ans, extra []mdns.RR
	var err error
	switch q.Qtype {
	case mdns.TypeA, mdns.TypeAAAA:
		ans, err = s.addresses(ctx, q.Name, base, q.Qtype, zone, nil)
	case mdns.TypeSRV:
		ans, extra, err = s.srv(q.Name, base, zone)
	case mdns.TypeTXT:
		ans, err = s.txt(q.Name, base, zone)
	case mdns.TypeCNAME:
		var items []item
		if items, err = s.lookupItems(base, zone); err == nil && len(items) > 0 && items[0].cname != "" {
			ans = []mdns.RR{s.cnameRR(q.Name, items[0].cname)}
		}
	case mdns.TypeSOA:
		if base == "" {
			ans = []mdns.RR{s.soa(zone)}
		}
	case mdns.TypeAXFR, mdns.TypeIXFR:
		return clusterAnswer{rcode: mdns.RcodeRefused}
	case mdns.TypeNS:
		if base == "" {
			ans, extra = s.ns(q.Name, zone)
			break
		}
		_, err = s.addresses(ctx, q.Name, base, mdns.TypeA, zone, nil)
	case mdns.TypePTR, mdns.TypeMX:
		_, err = s.lookupItems(base, zone) // no such records in the zone: NODATA or NXDOMAIN
	default:
		// Like CoreDNS: look the name up as A to tell NODATA from NXDOMAIN.
		_, err = s.addresses(ctx, q.Name, base, mdns.TypeA, zone, nil)
	}
	switch {
	case isNameError(err) && !s.HasSynced():
		return clusterAnswer{rcode: mdns.RcodeServerFailure}
	case isNameError(err):
		return clusterAnswer{rcode: mdns.RcodeNameError}
	case err != nil:
		return clusterAnswer{rcode: mdns.RcodeServerFailure}
	}
	return clusterAnswer{rcode: mdns.RcodeSuccess, answer: ans, extra: extra}
}

// lookupItems parses base and returns what it stands for; ns.dns.<zone>
// stands for the cluster DNS addresses.
func (s *Server) lookupItems(base, zone string) ([]item, error) {
	if base == "ns.dns" {
		var out []item
		for _, a := range s.cfg.ClusterDNS {
			out = append(out, item{addr: a.Unmap(), port: -1, owner: "ns.dns." + zone + "."})
		}
		return out, nil
	}
	r, err := parse(base)
	if err != nil {
		return nil, err
	}
	return s.items(r, zone)
}

// addresses answers A or AAAA for qname, following ExternalName CNAMEs:
// inside the zone from the index, outside through the upstream resolvers.
// prev holds the CNAMEs already followed.
func (s *Server) addresses(ctx context.Context, qname, base string, qtype uint16, zone string, prev []mdns.RR) ([]mdns.RR, error) {
	items, err := s.lookupItems(base, zone)
	if err != nil {
		return nil, err
	}
	var out []mdns.RR
	seen := map[netip.Addr]bool{}
	for _, it := range items {
		if it.cname == "" {
			if seen[it.addr] || (qtype == mdns.TypeA) != it.addr.Is4() {
				continue
			}
			seen[it.addr] = true
			out = append(out, s.addrRR(qname, it.addr))
			continue
		}
		if strings.EqualFold(it.cname, mdns.Fqdn(qname)) || len(prev) > maxCNAMEChain || seenCNAME(prev, it.cname) {
			continue
		}
		rr := s.cnameRR(qname, it.cname)
		if inZone(it.cname, zone) {
			next, err := s.addresses(ctx, it.cname, relative(it.cname, zone), qtype, zone, append(prev, rr))
			if err == nil && len(next) > 0 {
				out = append(out, rr)
				out = append(out, next...)
			}
			continue
		}
		m, err := s.resolveUpstream(ctx, it.cname, qtype)
		if err != nil || m == nil {
			continue
		}
		out = append(out, rr)
		out = append(out, m.Answer...)
	}
	return out, nil
}

// inZone reports whether name (an FQDN) is zone or below it.
func inZone(name, zone string) bool {
	n, z := strings.ToLower(name), strings.ToLower(zone)+"."
	return n == z || strings.HasSuffix(n, "."+z)
}

// relative returns name (an FQDN under zone) without the zone, in lower
// case: "" for the zone itself.
func relative(name, zone string) string {
	n, z := strings.ToLower(name), strings.ToLower(zone)+"."
	if n == z {
		return ""
	}
	return strings.TrimSuffix(n, "."+z)
}

func seenCNAME(prev []mdns.RR, target string) bool {
	for _, rr := range prev {
		if c, ok := rr.(*mdns.CNAME); ok && strings.EqualFold(c.Target, target) {
			return true
		}
	}
	return false
}

// srv answers SRV: one record per address and port (ports -1 have none),
// pointing at the owner name, whose address goes in the additional
// section. Weights split 100 evenly, as CoreDNS does; priority is 0.
func (s *Server) srv(qname, base, zone string) (ans, extra []mdns.RR, err error) {
	items, err := s.lookupItems(base, zone)
	if err != nil {
		return nil, nil, err
	}
	var addrs []item
	for _, it := range items {
		if it.cname == "" {
			addrs = append(addrs, it)
		}
	}
	if len(addrs) == 0 {
		return nil, nil, nil
	}
	weight := uint16(math.Floor(100.0 / float64(len(addrs))))
	weight = max(weight, 1)
	type target struct {
		name string
		port int32
		addr netip.Addr
	}
	seen := map[target]bool{}
	for _, it := range addrs {
		if it.port == -1 {
			continue
		}
		if t := (target{name: it.owner, port: it.port}); !seen[t] {
			seen[t] = true
			ans = append(ans, &mdns.SRV{Hdr: s.hdr(qname, mdns.TypeSRV), Priority: 0, Weight: weight,
				Port: uint16(it.port), Target: it.owner})
		}
		if t := (target{name: it.owner, addr: it.addr}); !seen[t] {
			seen[t] = true
			extra = append(extra, s.addrRR(it.owner, it.addr))
		}
	}
	return ans, extra, nil
}

// txt answers TXT: the schema version at dns-version.<zone>; otherwise no
// records — NODATA for a name that stands for something, else NXDOMAIN
// (even for names that exist without records, as CoreDNS answers).
func (s *Server) txt(qname, base, zone string) ([]mdns.RR, error) {
	if base == "dns-version" {
		return []mdns.RR{&mdns.TXT{Hdr: mdns.RR_Header{Name: qname, Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 28800},
			Txt: []string{dnsSchemaVersion}}}, nil
	}
	if items, _ := s.lookupItems(base, zone); len(items) > 0 {
		return nil, nil
	}
	return nil, errNoItems
}

// ns answers NS at the zone's apex: ns.dns.<zone>, with its addresses (the
// cluster DNS Service's) as additional records.
func (s *Server) ns(qname, zone string) (ans, extra []mdns.RR) {
	host := "ns.dns." + zone + "."
	ans = []mdns.RR{&mdns.NS{Hdr: s.hdr(qname, mdns.TypeNS), Ns: host}}
	for _, a := range s.cfg.ClusterDNS {
		extra = append(extra, s.addrRR(host, a.Unmap()))
	}
	return ans, extra
}

// soa is the zone's SOA record, sent with negative answers.
func (s *Server) soa(zone string) mdns.RR {
	ttl := s.ttl()
	return &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: zone + ".", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: min(ttl, 300)},
		Ns:      "ns.dns." + zone + ".",
		Mbox:    "hostmaster." + zone + ".",
		Serial:  s.idx.serial.Load(),
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  ttl,
	}
}

func (s *Server) ttl() uint32 { return uint32(s.cfg.TTL.Seconds()) }

func (s *Server) hdr(name string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: s.ttl()}
}

func (s *Server) addrRR(name string, a netip.Addr) mdns.RR {
	if a.Is4() {
		return &mdns.A{Hdr: s.hdr(name, mdns.TypeA), A: a.AsSlice()}
	}
	return &mdns.AAAA{Hdr: s.hdr(name, mdns.TypeAAAA), AAAA: a.AsSlice()}
}

func (s *Server) cnameRR(name, target string) mdns.RR {
	return &mdns.CNAME{Hdr: s.hdr(name, mdns.TypeCNAME), Target: mdns.Fqdn(target)}
}
