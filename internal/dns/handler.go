package dns

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// ServeDNS answers one query: names under the cluster domain from the
// index, PTR queries for Service and endpoint addresses from the index,
// everything else through the upstream resolvers.
func (s *Server) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	ctx, cancel := s.queryContext()
	defer cancel()
	tcp := isTCP(w.LocalAddr())
	var m *mdns.Msg
	if s.allowed(w.RemoteAddr()) {
		m = s.reply(ctx, r, tcp)
	} else {
		m = new(mdns.Msg).SetRcode(r, mdns.RcodeRefused)
	}
	fitReply(r, m, tcp)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write reply", "err", err)
	}
}

// allowed reports whether a client may ask (Config.AllowFrom).
func (s *Server) allowed(a net.Addr) bool {
	if len(s.cfg.AllowFrom) == 0 {
		return true
	}
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return false
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	addr = addr.Unmap()
	for _, p := range s.cfg.AllowFrom {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// reply builds the answer to r, without the EDNS record and size limits
// fitReply adds.
func (s *Server) reply(ctx context.Context, r *mdns.Msg, tcp bool) *mdns.Msg {
	if len(r.Question) != 1 {
		return new(mdns.Msg).SetRcode(r, mdns.RcodeFormatError)
	}
	if s.fwd.isProbe(r.Question[0].Name) {
		return new(mdns.Msg).SetRcode(r, mdns.RcodeServerFailure) // our loop probe came back: end it
	}
	if opt := r.IsEdns0(); opt != nil && opt.Version() != 0 {
		m := new(mdns.Msg).SetRcode(r, mdns.RcodeBadVers)
		return m
	}
	q := r.Question[0]
	if inZone(q.Name, s.cfg.Domain) {
		// The zone as the query wrote it: answers keep the query's case.
		zone := strings.TrimSuffix(q.Name, ".")
		zone = zone[len(zone)-len(s.cfg.Domain):]
		return s.clusterReply(r, s.answerCluster(ctx, q, zone), zone)
	}
	if q.Qtype == mdns.TypePTR {
		if a, ok := reverseAddr(q.Name); ok {
			if targets := s.reverse(a); len(targets) > 0 {
				m := new(mdns.Msg).SetReply(r)
				m.Authoritative = true
				for _, t := range targets {
					m.Answer = append(m.Answer, &mdns.PTR{Hdr: s.hdr(q.Name, mdns.TypePTR), Ptr: t})
				}
				return m
			}
		}
	}
	return s.forward(ctx, r, tcp)
}

// clusterReply turns an answer under the cluster zone into a message:
// authoritative, with the zone's SOA in the authority section of negative
// answers.
func (s *Server) clusterReply(r *mdns.Msg, a clusterAnswer, zone string) *mdns.Msg {
	m := new(mdns.Msg)
	if a.rcode == mdns.RcodeRefused {
		return m.SetRcode(r, a.rcode)
	}
	m.SetRcode(r, a.rcode)
	m.Authoritative = true
	m.Answer, m.Extra = shuffleAddresses(a.answer), a.extra
	if len(m.Answer) == 0 {
		m.Ns = []mdns.RR{s.soa(zone)}
	}
	return m
}

// shuffleAddresses rotates the address records of an answer by a random
// amount (k3s's CoreDNS runs the loadbalance plugin, so clients spread over
// a headless Service's endpoints); CNAMEs stay in front.
func shuffleAddresses(rrs []mdns.RR) []mdns.RR {
	first := 0
	for first < len(rrs) && rrs[first].Header().Rrtype == mdns.TypeCNAME {
		first++
	}
	addrs := rrs[first:]
	for _, rr := range addrs {
		if t := rr.Header().Rrtype; t != mdns.TypeA && t != mdns.TypeAAAA {
			return rrs
		}
	}
	if n := len(addrs); n > 1 {
		k := rand.IntN(n)
		rotated := append(append([]mdns.RR(nil), addrs[k:]...), addrs[:k]...)
		copy(addrs, rotated)
	}
	return rrs
}

// fitReply adds the EDNS record a client that sent one expects (version
// 0, its buffer size, its DO bit) and truncates the message to what the
// transport carries: 64 KiB on TCP, the client's EDNS buffer size (at
// least 512) or 512 bytes on UDP. A truncated reply has TC set so the
// client retries over TCP.
func fitReply(r, m *mdns.Msg, tcp bool) {
	size := mdns.MinMsgSize
	stripOPT(m)
	if opt := r.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), mdns.MinMsgSize)
		o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		o.SetUDPSize(uint16(size))
		if opt.Do() {
			o.SetDo()
		}
		m.Extra = append(m.Extra, o)
	}
	if tcp {
		size = mdns.MaxMsgSize
	}
	m.Truncate(size)
	if !m.Compress && m.Len() > 1232 {
		m.Compress = true // smaller datagrams fragment less
	}
}

func stripOPT(m *mdns.Msg) {
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != mdns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
}

func isTCP(a net.Addr) bool {
	_, ok := a.(*net.TCPAddr)
	return ok
}

// reverseAddr reads the address of a name under in-addr.arpa or ip6.arpa.
func reverseAddr(name string) (netip.Addr, bool) {
	s := mdns.Fqdn(strings.ToLower(name))
	switch {
	case strings.HasSuffix(s, ".in-addr.arpa."):
		labels := strings.Split(strings.TrimSuffix(s, ".in-addr.arpa."), ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
			labels[i], labels[j] = labels[j], labels[i]
		}
		a, err := netip.ParseAddr(strings.Join(labels, "."))
		return a, err == nil && a.Is4()
	case strings.HasSuffix(s, ".ip6.arpa."):
		nibbles := strings.Split(strings.TrimSuffix(s, ".ip6.arpa."), ".")
		if len(nibbles) != 32 {
			return netip.Addr{}, false
		}
		var b strings.Builder
		for i := len(nibbles) - 1; i >= 0; i-- {
			if len(nibbles[i]) != 1 {
				return netip.Addr{}, false
			}
			b.WriteString(nibbles[i])
			if i%4 == 0 && i > 0 {
				b.WriteByte(':')
			}
		}
		a, err := netip.ParseAddr(b.String())
		return a, err == nil && a.Is6()
	}
	return netip.Addr{}, false
}
