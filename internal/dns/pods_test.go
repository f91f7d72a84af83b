package dns

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func podWithIPs(ns, name string, ips ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		p.Status.PodIP = ips[0]
	}
	return p
}

// TestPodModes: insecure answers any address of an existing namespace,
// verified only the addresses pods of that namespace have, disabled none.
func TestPodModes(t *testing.T) {
	newWith := func(mode PodMode) *Server {
		s, err := newServer(Config{Listen: []string{"127.0.0.1:0"}, Pods: mode, Upstreams: []string{"127.0.0.1:1"}}, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{"default", "shop"} {
			s.onNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, true)
		}
		return s
	}
	rcode := func(s *Server, name string, qtype uint16) int { return query(t, s, name, qtype).Rcode }

	insecure := newWith(PodsInsecure)
	if m := query(t, insecure, "10-42-0-7.default.pod.cluster.local.", mdns.TypeA); len(m.Answer) != 1 {
		t.Errorf("insecure: %v", m)
	}
	disabled := newWith(PodsDisabled)
	if got := rcode(disabled, "10-42-0-7.default.pod.cluster.local.", mdns.TypeA); got != mdns.RcodeNameError {
		t.Errorf("disabled: rcode %s", mdns.RcodeToString[got])
	}

	s := newWith(PodsVerified)
	p := podWithIPs("default", "a", "10.42.0.7", "fd00:42::7")
	s.onPod(nil, p)
	if got := rrs(query(t, s, "10-42-0-7.default.pod.cluster.local.", mdns.TypeA).Answer); len(got) != 1 ||
		got[0] != "10-42-0-7.default.pod.cluster.local. 5 IN A 10.42.0.7" {
		t.Errorf("verified, known pod: %q", got)
	}
	if got := rrs(query(t, s, "fd00-42--7.default.pod.cluster.local.", mdns.TypeAAAA).Answer); len(got) != 1 {
		t.Errorf("verified, second pod address: %q", got)
	}
	for _, name := range []string{"10-42-0-7.shop.pod.cluster.local.", "10-42-0-8.default.pod.cluster.local."} {
		if got := rcode(s, name, mdns.TypeA); got != mdns.RcodeNameError {
			t.Errorf("verified, %s: rcode %s, want NXDOMAIN", name, mdns.RcodeToString[got])
		}
	}
	// Two pods share an address (host network): it stays while one is left.
	q := podWithIPs("default", "b", "10.42.0.7")
	s.onPod(nil, q)
	moved := podWithIPs("default", "a", "10.42.0.9")
	s.onPod(p, moved)
	if got := rcode(s, "10-42-0-7.default.pod.cluster.local.", mdns.TypeA); got != mdns.RcodeSuccess {
		t.Errorf("address still held by pod b: rcode %s", mdns.RcodeToString[got])
	}
	if got := rcode(s, "10-42-0-9.default.pod.cluster.local.", mdns.TypeA); got != mdns.RcodeSuccess {
		t.Errorf("pod a's new address: rcode %s", mdns.RcodeToString[got])
	}
	s.onPod(tombstone(q), nil)
	s.onPod(moved, nil)
	if got := rcode(s, "10-42-0-7.default.pod.cluster.local.", mdns.TypeA); got != mdns.RcodeNameError {
		t.Errorf("after both pods left: rcode %s", mdns.RcodeToString[got])
	}
	if n := len(s.idx.pods); n != 0 {
		t.Errorf("pod index keeps %d addresses after every pod left", n)
	}
	if _, ok := s.idx.pods[netip.MustParseAddr("fd00:42::7")]; ok {
		t.Error("old address of a moved pod kept")
	}
}
