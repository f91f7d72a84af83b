package proxy

import (
	"net/netip"
	"strings"
	"testing"
)

// A LoadBalancer address that is also an externalIP (ServiceLB lists node
// addresses, users list them in externalIPs too) is programmed once: the
// ruleset is the one without the repetition.
func TestSharedExternalAndLoadBalancerAddress(t *testing.T) {
	once := web(ready("10.42.0.2", 8080, true))
	once.LoadBalancerIPs = []netip.Addr{ip("192.0.2.1"), ip("192.0.2.3")}
	twice := once
	twice.ExternalIPs = []netip.Addr{ip("192.0.2.1")}
	twice.LoadBalancerIPs = []netip.Addr{ip("192.0.2.3"), ip("192.0.2.1"), ip("192.0.2.3")}
	want, err := Ruleset(v4, []Service{once})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Ruleset(v4, []Service{twice})
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("repeated addresses change the ruleset:\n%s", lineDiff(want.String(), got.String()))
	}
}

// status.loadBalancer.ingress[].ipMode: Proxy — the load balancer proxies
// to the nodes itself, so, as kube-proxy, no rule short-circuits its
// address: the ruleset has the VIP-mode address and not the Proxy-mode
// one, and is the ruleset of the Service without that address.
func TestGoldenLoadBalancerIPMode(t *testing.T) {
	svc := web(ready("10.42.0.2", 8080, true), ready("10.42.1.2", 8080, false))
	svc.LoadBalancerIPs = []netip.Addr{ip("192.0.2.30")}
	svc.ProxiedLoadBalancerIPs = []netip.Addr{ip("192.0.2.31")}
	tbl, err := Ruleset(v4, []Service{svc})
	if err != nil {
		t.Fatal(err)
	}
	got := tbl.String()
	golden(t, "ipmode", got)
	if !strings.Contains(got, "192.0.2.30") || strings.Contains(got, "192.0.2.31") {
		t.Errorf("want rules for the VIP-mode address 192.0.2.30 and none for the Proxy-mode 192.0.2.31:\n%s", got)
	}
	without := svc
	without.ProxiedLoadBalancerIPs = nil
	want, err := Ruleset(v4, []Service{without})
	if err != nil {
		t.Fatal(err)
	}
	if got != want.String() {
		t.Errorf("a Proxy-mode address changes the ruleset:\n%s", lineDiff(want.String(), got))
	}
	// Changing an address's mode is a change of the Service.
	vip := svc
	vip.LoadBalancerIPs, vip.ProxiedLoadBalancerIPs = []netip.Addr{ip("192.0.2.30"), ip("192.0.2.31")}, nil
	if svc.equal(&vip) {
		t.Error("ipMode Proxy → VIP not seen as a change")
	}
}
