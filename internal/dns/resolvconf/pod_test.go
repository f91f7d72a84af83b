package resolvconf

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/runtime"
)

func pod(policy corev1.DNSPolicy, hostNet bool, dc *corev1.PodDNSConfig) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop", UID: "u1"},
		Spec:       corev1.PodSpec{DNSPolicy: policy, HostNetwork: hostNet, DNSConfig: dc},
	}
}

func TestForPod(t *testing.T) {
	host := &Config{Nameservers: []string{"192.0.2.1", "192.0.2.2"}, Searches: []string{"corp.example", "cluster.local"},
		Options: []string{"timeout:2"}}
	node := Node{ClusterDNS: []netip.Addr{netip.MustParseAddr("10.43.0.10")}, ClusterDomain: "cluster.local", Host: host}
	clusterFirst := &runtime.DNSConfig{
		Servers:  []string{"10.43.0.10"},
		Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
		Options:  []string{"ndots:5"},
	}
	hostDNS := &runtime.DNSConfig{Servers: host.Nameservers, Searches: host.Searches, Options: host.Options}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		node     Node
		want     *runtime.DNSConfig
		warnings []string
	}{
		{"ClusterFirst", pod(corev1.DNSClusterFirst, false, nil), node, clusterFirst, nil},
		{"unset policy is ClusterFirst", pod("", false, nil), node, clusterFirst, nil},
		{"ClusterFirst on the host network is Default", pod(corev1.DNSClusterFirst, true, nil), node, hostDNS, nil},
		{"ClusterFirstWithHostNet", pod(corev1.DNSClusterFirstWithHostNet, true, nil), node, clusterFirst, nil},
		{"Default", pod(corev1.DNSDefault, false, nil), node, hostDNS, nil},
		{"None with dnsConfig", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{
			Nameservers: []string{"1.2.3.4"}, Searches: []string{"ns1.svc.cluster.local", "my.dns.search.suffix"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}},
		}), node, &runtime.DNSConfig{Servers: []string{"1.2.3.4"}, Searches: []string{"ns1.svc.cluster.local", "my.dns.search.suffix"},
			Options: []string{"ndots:2", "edns0"}}, nil},
		{"ClusterFirst merged with dnsConfig", pod(corev1.DNSClusterFirst, false, &corev1.PodDNSConfig{
			Nameservers: []string{"10.43.0.10", "192.0.2.9"}, Searches: []string{"corp.example", "extra.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}, {Name: "single-request-reopen"}},
		}), node, &runtime.DNSConfig{Servers: []string{"10.43.0.10", "192.0.2.9"},
			Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "extra.example"},
			Options:  []string{"ndots:1", "single-request-reopen"}}, nil},
		{"no cluster DNS: Default with a warning", pod(corev1.DNSClusterFirst, false, nil),
			Node{ClusterDomain: "cluster.local", Host: host}, hostDNS, []string{ReasonMissingClusterDNS}},
		{"no host resolver file", pod(corev1.DNSDefault, false, nil),
			Node{ClusterDNS: node.ClusterDNS, NodeIPs: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}},
			&runtime.DNSConfig{Servers: []string{"127.0.0.1", "::1"}, Searches: []string{"."}}, nil},
		{"too many nameservers", pod(corev1.DNSDefault, false, &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.3", "192.0.2.4"}}),
			node, &runtime.DNSConfig{Servers: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, Searches: host.Searches, Options: host.Options},
			[]string{ReasonDNSConfigForming}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings := ForPod(tt.pod, tt.node)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			var reasons []string
			for _, w := range warnings {
				reasons = append(reasons, w.Reason)
			}
			if !reflect.DeepEqual(reasons, tt.warnings) {
				t.Errorf("warnings %+v, want reasons %v", warnings, tt.warnings)
			}
		})
	}
	// ForPod must not change the node's configuration it was given.
	if !reflect.DeepEqual(host.Nameservers, []string{"192.0.2.1", "192.0.2.2"}) {
		t.Errorf("host config changed: %+v", host)
	}
}

func TestForPodWarningMessages(t *testing.T) {
	host := &Config{Nameservers: []string{"192.0.2.1"}}
	_, w := ForPod(pod(corev1.DNSClusterFirst, false, nil), Node{Host: host, ClusterDomain: "cluster.local"})
	want := `pod: "p_shop(u1)". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`
	if len(w) != 1 || w[0].Message != want {
		t.Errorf("got %+v", w)
	}
	_, w = ForPod(pod(corev1.DNSNone, false, &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"}}), Node{})
	if len(w) != 1 || w[0].Message != "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 1.1.1.1 1.1.1.2 1.1.1.3" {
		t.Errorf("got %+v", w)
	}
}

// TestSearchLimits: at most 32 search domains, none over 253 characters,
// 2048 characters in all; the cluster's own domains come first and stay.
func TestSearchLimits(t *testing.T) {
	node := Node{ClusterDNS: []netip.Addr{netip.MustParseAddr("10.43.0.10")}, ClusterDomain: "cluster.local", Host: &Config{}}
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("d%02d.example", i))
	}
	got, w := ForPod(pod(corev1.DNSClusterFirst, false, &corev1.PodDNSConfig{Searches: many}), node)
	if len(got.Searches) != MaxSearchPaths || got.Searches[0] != "shop.svc.cluster.local" || got.Searches[31] != "d28.example" {
		t.Errorf("32-path limit: %d paths %q", len(got.Searches), got.Searches)
	}
	if len(w) != 1 || w[0].Reason != ReasonDNSConfigForming || !strings.HasPrefix(w[0].Message, "Search Line limits were exceeded") {
		t.Errorf("warnings %+v", w)
	}

	long := strings.Repeat("a", 254)
	got, w = ForPod(pod(corev1.DNSNone, false, &corev1.PodDNSConfig{Searches: []string{"ok.example", long}}), node)
	if !reflect.DeepEqual(got.Searches, []string{"ok.example"}) || len(w) != 1 {
		t.Errorf("over-long domain: %q %+v", got.Searches, w)
	}

	var wide []string
	for i := range 20 {
		wide = append(wide, fmt.Sprintf("%s%02d.example", strings.Repeat("b", 100), i)) // 110 characters each
	}
	got, _ = ForPod(pod(corev1.DNSNone, false, &corev1.PodDNSConfig{Searches: wide}), node)
	if n := len(strings.Join(got.Searches, " ")); n > MaxSearchListChars || len(got.Searches) != 18 {
		t.Errorf("2048-character limit: %d domains, %d characters", len(got.Searches), n)
	}
	if _, w := ForPod(pod(corev1.DNSClusterFirst, false, nil), node); len(w) != 0 {
		t.Errorf("no limit reached, yet warnings %+v", w)
	}
}
