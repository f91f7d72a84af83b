package dns

import (
	"fmt"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Clients outside AllowFrom are refused over both transports; allowed
// ones get answers.
func TestAllowFrom(t *testing.T) {
	s := newFixtureServer(t, "")
	s.cfg.AllowFrom = []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")}
	addr := runServer(t, s)
	q := new(mdns.Msg).SetQuestion("web.default.svc.cluster.local.", mdns.TypeA)
	for _, net := range []string{"udp", "tcp"} {
		if r := exchange(t, net, addr, q); r.Rcode != mdns.RcodeRefused || len(r.Answer) != 0 {
			t.Errorf("%s from 127.0.0.1: rcode %s, %d answers; want REFUSED", net, mdns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	ok := newFixtureServer(t, "")
	ok.cfg.AllowFrom = []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("127.0.0.0/8")}
	if r := exchange(t, "udp", runServer(t, ok), q); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("allowed client: rcode %s, %d answers", mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

func TestEndpointSlice(t *testing.T) {
	node := func(name string, addrs ...corev1.NodeAddress) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Addresses: addrs}}
	}
	gone := node("gone", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.9"})
	gone.DeletionTimestamp = &metav1.Time{}
	sl := EndpointSlice([]*corev1.Node{
		node("b", corev1.NodeAddress{Type: corev1.NodeHostName, Address: "b"}, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.3"}),
		node("a", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::2"}, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.2"}),
		node("no-address"),
		gone,
	})
	if sl.Name != "kube-dns-nodes" || sl.Namespace != "kube-system" || sl.Labels[discoveryv1.LabelServiceName] != "kube-dns" ||
		sl.Labels[discoveryv1.LabelManagedBy] != "kserver" || sl.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("slice meta: %+v", sl.ObjectMeta)
	}
	if len(sl.Endpoints) != 2 || sl.Endpoints[0].Addresses[0] != "192.168.1.2" || *sl.Endpoints[0].NodeName != "a" ||
		sl.Endpoints[1].Addresses[0] != "192.168.1.3" || !*sl.Endpoints[1].Conditions.Ready {
		t.Errorf("endpoints: %+v", sl.Endpoints)
	}
	var ports []string
	for _, p := range sl.Ports {
		ports = append(ports, *p.Name+"/"+string(*p.Protocol))
	}
	if len(ports) != 3 || ports[0] != "dns/UDP" || ports[1] != "dns-tcp/TCP" || ports[2] != "metrics/TCP" {
		t.Errorf("ports %v: must match the Service's port names", ports)
	}
	if !sameSlice(sl, EndpointSlice([]*corev1.Node{gone, node("a", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.2"}),
		node("b", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.3"})})) {
		t.Error("the same nodes in another order must give the same slice")
	}
	var many []*corev1.Node
	for i := range 1200 {
		many = append(many, node(fmt.Sprintf("n%04d", i), corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}))
	}
	if got := len(EndpointSlice(many).Endpoints); got != 1000 {
		t.Errorf("%d endpoints for 1200 nodes, want the API's limit of 1000", got)
	}
	if sameSlice(sl, EndpointSlice(nil)) {
		t.Error("a slice without endpoints differs")
	}
}
