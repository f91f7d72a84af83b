package nodenet

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/netpol"
	"kserver.dev/kserver/internal/nft"
)

func pod(ns, name, node, ip string, labels map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestPolicies(t *testing.T) {
	in := PolicyInput{
		Node: "me",
		Pods: []*corev1.Pod{
			pod("app", "web-1", "me", "10.42.0.5", map[string]string{"app": "web"}, corev1.ContainerPort{Name: "http", ContainerPort: 8080}),
			pod("app", "web-2", "other", "10.42.1.5", map[string]string{"app": "web"}, corev1.ContainerPort{Name: "http", ContainerPort: 9090}),
			pod("app", "client", "other", "10.42.1.6", map[string]string{"role": "client"}),
			pod("mon", "prom", "me", "10.42.0.9", map[string]string{"role": "client"}),
			pod("app", "pending", "me", "", map[string]string{"app": "web"}), // no address yet
			{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "hostnet", Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{NodeName: "me", HostNetwork: true}, Status: corev1.PodStatus{PodIP: "192.168.1.2"}},
		},
		Namespaces: []*corev1.Namespace{
			{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{"team": "a"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "mon", Labels: map[string]string{"team": "ops"}}},
		},
	}
	webSel := metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tcp := corev1.ProtocolTCP
	nps := []*networkingv1.NetworkPolicy{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "deny"}, Spec: networkingv1.NetworkPolicySpec{PodSelector: webSel}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "allow"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: webSel,
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{ // clients of this namespace, ops clients, a block: to the named port
					From: []networkingv1.NetworkPolicyPeer{
						{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}},
						{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "ops"}},
							PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}},
						{IPBlock: &networkingv1.IPBlock{CIDR: "192.168.0.0/16", Except: []string{"192.168.5.0/24"}}},
					},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromString("http"))}},
				},
				{ // nobody has these: allows nothing
					From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"x": "y"}}}},
				},
				{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromString("nope"))}}}, // unknown name: nothing
				{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(9000)), EndPort: ptr.To(int32(9100))}}},
			},
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}, // every pod in every namespace
					Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromString("http"))}}}, // named on the peers: 8080 and 9090
			},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "mon", Name: "elsewhere"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"none": "here"}}}}, // selects no pod here
	}
	got := Policies(nps, in)
	want := []netpol.Policy{
		{Namespace: "app", Name: "allow", Pods: addrs("10.42.0.5"), Ingress: true, Egress: true,
			IngressRules: []netpol.Rule{
				{Peers: []netpol.Peer{
					{IPs: addrs("10.42.1.6")},
					{IPs: addrs("10.42.0.9")},
					{CIDR: netip.MustParsePrefix("192.168.0.0/16"), Except: []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24")}},
				}, Ports: []netpol.Port{{Protocol: nft.TCP, Port: 8080}}},
				{Peers: []netpol.Peer{{}}},
				{Peers: []netpol.Peer{{}}},
				{Ports: []netpol.Port{{Protocol: nft.TCP, Port: 9000, EndPort: 9100}}},
			},
			EgressRules: []netpol.Rule{{
				Peers: []netpol.Peer{{IPs: addrs("10.42.0.5", "10.42.0.9", "10.42.1.5", "10.42.1.6")}},
				Ports: []netpol.Port{{Protocol: nft.TCP, Port: 8080}, {Protocol: nft.TCP, Port: 9090}},
			}}},
		{Namespace: "app", Name: "deny", Pods: addrs("10.42.0.5"), Ingress: true},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("Policies (-want +got):\n%s", d)
	}
	// The enforcer accepts what came out.
	if _, err := netpol.Ruleset(netpol.Config{}, got); err != nil {
		t.Fatal(err)
	}
}
