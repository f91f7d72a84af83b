package proxy

import (
	"net/netip"
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
