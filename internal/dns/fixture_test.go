package dns

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// A fixture cluster, fed to the server through its informer handlers.

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func svc(ns, name string, mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}
	mutate(s)
	return s
}

func clusterIP(ips ...string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = ips[0], ips }
}

func withPorts(ports ...corev1.ServicePort) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.Ports = ports }
}

func all(fs ...func(*corev1.Service)) func(*corev1.Service) {
	return func(s *corev1.Service) {
		for _, f := range fs {
			f(s)
		}
	}
}

func headless(s *corev1.Service) {
	s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
}

func externalName(target string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, target }
}

func tcp(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

func udp(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolUDP}
}

// ep is an endpoint: address, hostname ("" for none), ready.
type ep struct {
	addr, host string
	ready      *bool
}

func eps(ns, service, name string, family discoveryv1.AddressType, ports []discoveryv1.EndpointPort, endpoints ...ep) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: family,
		Ports:       ports,
	}
	for _, e := range endpoints {
		d := discoveryv1.Endpoint{Addresses: []string{e.addr}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if e.host != "" {
			d.Hostname = ptr.To(e.host)
		}
		es.Endpoints = append(es.Endpoints, d)
	}
	return es
}

func slicePort(name string, proto corev1.Protocol, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Protocol: ptr.To(proto), Port: ptr.To(port)}
}

var (
	yes = ptr.To(true)
	no  = ptr.To(false)
)

// fixtureObjects is the cluster the table tests query.
func fixtureObjects() (namespaces []string, services []*corev1.Service, slices []*discoveryv1.EndpointSlice) {
	namespaces = []string{"default", "kube-system", "empty"}
	services = []*corev1.Service{
		svc("default", "web", all(clusterIP("10.43.0.20"), withPorts(tcp("http", 80), udp("dns", 53)))),
		svc("default", "dual", all(clusterIP("10.43.0.21", "fd00:43::21"), withPorts(tcp("http", 80)))),
		svc("default", "nginx", all(headless, withPorts(tcp("web", 80)))),
		svc("default", "pub", all(headless, withPorts(tcp("web", 80)), func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true })),
		svc("default", "lonely", all(headless, withPorts(tcp("web", 80)))),
		svc("default", "noports", headless),
		svc("default", "h6", all(headless, withPorts(tcp("http", 80)))),
		svc("default", "ext", externalName("www.example.com")),
		svc("default", "ext-in", externalName("web.default.svc.cluster.local")),
		svc("default", "ext-ip", externalName("192.0.2.1")),
		svc("default", "ext-loop", externalName("ext-loop.default.svc.cluster.local")),
		svc("kube-system", "kube-dns", all(clusterIP("10.43.0.10"), withPorts(udp("dns", 53), tcp("dns-tcp", 53)))),
	}
	web := []discoveryv1.EndpointPort{slicePort("web", corev1.ProtocolTCP, 80)}
	slices = []*discoveryv1.EndpointSlice{
		eps("default", "web", "web-abc", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 8080)}, ep{addr: "10.42.0.20", ready: yes}),
		eps("default", "nginx", "nginx-abc", discoveryv1.AddressTypeIPv4, web,
			ep{"10.42.0.5", "web-0", yes}, ep{"10.42.1.6", "web-1", nil}, ep{"10.42.2.7", "web-2", no}),
		eps("default", "pub", "pub-abc", discoveryv1.AddressTypeIPv4, web, ep{"10.42.3.8", "", no}),
		eps("default", "noports", "noports-abc", discoveryv1.AddressTypeIPv4, nil, ep{"10.42.4.9", "", yes}),
		eps("default", "h6", "h6-abc", discoveryv1.AddressTypeIPv6,
			[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 80)}, ep{"fd00:42::5", "", yes}),
	}
	return namespaces, services, slices
}

// newFixtureServer is a server holding the fixture, forwarding to
// upstream.
func newFixtureServer(t *testing.T, upstream string) *Server {
	t.Helper()
	return fixtureServer(t, upstream)
}

func newFixtureServerB(b *testing.B) *Server { return fixtureServer(b, "") }

func fixtureServer(t testing.TB, upstream string) *Server {
	cfg := Config{Listen: []string{"127.0.0.1:0"}, ClusterDNS: []netip.Addr{netip.MustParseAddr("10.43.0.10")},
		ForwardTimeout: 500 * time.Millisecond}
	if upstream == "" {
		upstream = "127.0.0.1:1" // nothing listens: forwarded queries fail fast
	}
	cfg.Upstreams = []string{upstream}
	s, err := newServer(cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	s.fwd.load()
	namespaces, services, slices := fixtureObjects()
	for _, ns := range namespaces {
		s.onNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, true)
	}
	for _, o := range services {
		s.onService(o, true)
	}
	for _, o := range slices {
		s.onSlice(o, true)
	}
	return s
}

// fakeUpstream is a resolver on loopback with canned answers; it counts
// the queries it gets.
type fakeUpstream struct {
	addr    string
	queries atomic.Int32 // not counting loop probes (HINFO)
	tcp     atomic.Int32 // queries over TCP
	emptyTC bool         // UDP answers over 512 bytes are sent empty with TC, whatever the EDNS size
	mu      sync.Mutex
	names   []string
}

func startUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	return serveUpstream(t, &fakeUpstream{})
}

// serveUpstream starts u on a free loopback port, UDP and TCP.
func serveUpstream(t *testing.T, u *fakeUpstream) *fakeUpstream {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		t.Fatal(err)
	}
	h := mdns.HandlerFunc(u.serve)
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return u
}

func (u *fakeUpstream) serve(w mdns.ResponseWriter, r *mdns.Msg) {
	q := r.Question[0]
	if q.Qtype == mdns.TypeHINFO { // the server's loop probe
		_ = w.WriteMsg(new(mdns.Msg).SetRcode(r, mdns.RcodeNameError))
		return
	}
	u.queries.Add(1)
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		u.tcp.Add(1)
	}
	u.mu.Lock()
	u.names = append(u.names, strings.ToLower(q.Name)+" "+mdns.TypeToString[q.Qtype])
	u.mu.Unlock()
	m := new(mdns.Msg).SetReply(r)
	m.RecursionAvailable = true
	rr := func(s string) mdns.RR {
		x, err := mdns.NewRR(s)
		if err != nil {
			panic(err)
		}
		return x
	}
	soa := rr("example.com. 60 IN SOA ns.example.com. host.example.com. 1 7200 1800 86400 20")
	switch name := strings.ToLower(q.Name); {
	case name == "www.example.com." && q.Qtype == mdns.TypeA:
		m.Answer = []mdns.RR{rr("www.example.com. 300 IN A 192.0.2.53")}
	case name == "www.example.com." && q.Qtype == mdns.TypeAAAA:
		m.Answer = []mdns.RR{rr("www.example.com. 300 IN AAAA 2001:db8::53")}
	case name == "www.example.com.":
		m.Ns = []mdns.RR{soa}
	case name == "big.example.com.":
		for i := range 60 {
			m.Answer = append(m.Answer, rr(fmt.Sprintf("big.example.com. 300 IN TXT \"record %02d padding padding padding\"", i)))
		}
	case name == "9.9.9.10.in-addr.arpa.":
		m.Answer = []mdns.RR{rr("9.9.9.10.in-addr.arpa. 300 IN PTR upstream.example.com.")}
	case name == "short.example.com.":
		m.Answer = []mdns.RR{rr("short.example.com. 2 IN A 192.0.2.2")}
	default:
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{soa}
	}
	// Without EDNS a UDP answer is cut at 512 bytes, as real resolvers do.
	size := mdns.MinMsgSize
	if o := r.IsEdns0(); o != nil {
		size = int(o.UDPSize())
		m.SetEdns0(o.UDPSize(), false)
	}
	if _, ok := w.LocalAddr().(*net.UDPAddr); ok {
		if u.emptyTC {
			size = mdns.MinMsgSize
		}
		m.Truncate(size)
		if m.Truncated && u.emptyTC {
			m.Answer = nil
		}
	}
	_ = w.WriteMsg(m)
}

// query asks s directly, as a UDP client without EDNS would.
func query(t *testing.T, s *Server, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	r := new(mdns.Msg).SetQuestion(name, qtype)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m := s.reply(ctx, r, false)
	fitReply(r, m, false)
	return m
}

// rrs renders records as "name ttl class type data" lines, sorted.
func rrs(list []mdns.RR) []string {
	var out []string
	for _, rr := range list {
		if rr.Header().Rrtype == mdns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	sort.Strings(out)
	return out
}

// replaceField puts placeholder in place of field i of line when it is v.
func replaceField(line string, i int, placeholder string, v uint32) string {
	f := strings.Fields(line)
	if i < len(f) && f[i] == fmt.Sprint(v) {
		f[i] = placeholder
	}
	return strings.Join(f, " ")
}
