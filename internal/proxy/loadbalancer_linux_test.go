package proxy

import (
	"net/netip"
	"testing"

	"kserver.dev/kserver/internal/netns/netnstest"
)

// ServiceLB (internal/controller/servicelb) lists node addresses as a
// LoadBalancer Service's ingress IPs: traffic to the node's own address
// on the Service's port reaches the Service, from outside the node and
// from the node itself, with the client's address kept under
// externalTrafficPolicy Local. A node address a user also lists in
// externalIPs is programmed once.
func TestTrafficLoadBalancerOnNodeAddress(t *testing.T) {
	n := newTestNode(t)
	ext := netnstest.New(t, "ext")
	netnstest.Link(t, n.node, "ext0", "192.0.2.1/24", ext, "eth0", "192.0.2.2/24")
	netnstest.IP(t, ext, "route", "add", "default", "via", "192.0.2.1")

	// The Service exists before ServiceLB gives it addresses: they arrive
	// as an incremental change, with the ClusterIP's endpoint list and the
	// address's in one map.
	svc := web(ready("10.42.0.2", 8080, true), ready("10.42.0.3", 8080, true))
	n.sync(t, svc)
	svc.LoadBalancerIPs = []netip.Addr{ip("192.0.2.1")}
	svc.ExternalIPs = []netip.Addr{ip("192.0.2.1")}
	n.sync(t, svc)
	if st := n.p.LastSync(); st.Full {
		t.Errorf("the ingress address arriving rebuilt the table: %+v", st)
	}
	if got := hits(t, ext, "192.0.2.1:80", 20); got["pod-a"]+got["pod-b"] != 20 || got["pod-a"] == 0 || got["pod-b"] == 0 {
		t.Fatalf("from outside to the node address: %v", got)
	}
	if got := hits(t, n.client, "192.0.2.1:80", 4); got["pod-a"]+got["pod-b"] != 4 {
		t.Fatalf("from a pod to the node address: %v", got)
	}
	svc.Endpoints = svc.Endpoints[:1]
	svc.ExternalLocal = true
	n.sync(t, svc)
	if st := n.p.LastSync(); st.Full {
		t.Errorf("a policy change of a Service with a shared address rebuilt the table: %+v", st)
	}
	if got, err := netnstest.ClientAddr(ext, "192.0.2.1:80"); err != nil || got != "192.0.2.2" {
		t.Fatalf("Local policy: endpoint saw %q (%v), want the client's address 192.0.2.2", got, err)
	}
	// Gone from the ingress list: the node address serves nothing again.
	svc.LoadBalancerIPs, svc.ExternalIPs = nil, nil
	n.sync(t, svc)
	if st := n.p.LastSync(); st.Full {
		t.Errorf("removing a shared address rebuilt the table: %+v", st)
	}
	if out, err := netnstest.Get(ext, "192.0.2.1:80"); err == nil {
		t.Fatalf("the node address still answers after the ingress list was cleared: %s", out)
	}
}
