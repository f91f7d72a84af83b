package nodenet

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/nft"
	"kserver.dev/kserver/internal/proxy"
)

func slice(name, svc string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: eps,
	}
}

func ep(ip, node string, ready, serving, terminating *bool) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready, Serving: serving, Terminating: terminating}}
	if node != "" {
		e.NodeName = ptr.To(node)
	}
	return e
}

func TestServicePorts(t *testing.T) {
	web := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.5", ClusterIPs: []string{"10.43.0.5"},
			Ports: []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http"), NodePort: 30080},
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, NodePort: 30053},
			},
			ExternalIPs:           []string{"192.0.2.7", "2001:db8::7"},
			SessionAffinity:       corev1.ServiceAffinityClientIP,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyLocal),
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
			{IP: "192.0.2.10"}, {Hostname: "lb.example"},
			{IP: "192.0.2.11", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)},
			{IP: "192.0.2.12", IPMode: ptr.To(corev1.LoadBalancerIPModeProxy)}}}},
	}
	httpPort := []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}}
	slices := []*discoveryv1.EndpointSlice{
		slice("web-b", "web", httpPort,
			ep("10.42.1.9", "other", nil, nil, nil),                           // unset conditions: ready and serving
			ep("10.42.0.7", "me", ptr.To(false), ptr.To(true), ptr.To(true)),  // terminating, still serving
			ep("10.42.0.3", "me", ptr.To(true), ptr.To(true), ptr.To(false))), // local
		slice("web-a", "web", httpPort, ep("10.42.0.3", "me", ptr.To(true), nil, nil)), // the same endpoint in two slices
		{ObjectMeta: metav1.ObjectMeta{Name: "web-v6"}, AddressType: discoveryv1.AddressTypeIPv6, Ports: httpPort,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}}},
	}
	got := ServicePorts(web, slices, "me", false)
	base := proxy.Service{Namespace: "default", Name: "web", ClusterIP: netip.MustParseAddr("10.43.0.5"),
		ExternalIPs: []netip.Addr{netip.MustParseAddr("192.0.2.7")}, LoadBalancerIPs: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")},
		ProxiedLoadBalancerIPs: []netip.Addr{netip.MustParseAddr("192.0.2.12")},
		AffinityTimeout:        3 * time.Hour, ExternalLocal: true, InternalLocal: true}
	http, dns := base, base
	http.PortName, http.Protocol, http.Port, http.NodePort = "http", nft.TCP, 80, 30080
	http.Endpoints = []proxy.Endpoint{
		{IP: netip.MustParseAddr("10.42.0.3"), Port: 8080, Ready: true, Serving: true, Local: true},
		{IP: netip.MustParseAddr("10.42.0.7"), Port: 8080, Serving: true, Terminating: true, Local: true},
		{IP: netip.MustParseAddr("10.42.1.9"), Port: 8080, Ready: true, Serving: true},
	}
	dns.PortName, dns.Protocol, dns.Port, dns.NodePort = "dns", nft.UDP, 53, 30053 // no slice port: no endpoints
	if d := cmp.Diff([]proxy.Service{http, dns}, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("ServicePorts (-want +got):\n%s", d)
	}
	for i := range got {
		if err := validate(got[i]); err != nil {
			t.Error(err)
		}
	}
}

// validate asks the proxy's own ruleset builder whether it accepts the port.
func validate(s proxy.Service) error {
	_, err := proxy.Ruleset(proxy.Config{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")}}, []proxy.Service{s})
	return err
}

func TestServicePortsNothingToProgram(t *testing.T) {
	for name, svc := range map[string]*corev1.Service{
		"headless":     {Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 80}}}},
		"externalName": {Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org", Ports: []corev1.ServicePort{{Port: 80}}}},
		"v6 only":      {Spec: corev1.ServiceSpec{ClusterIPs: []string{"fd00:43::5"}, Ports: []corev1.ServicePort{{Port: 80}}}},
	} {
		if got := ServicePorts(svc, nil, "me", false); len(got) != 0 {
			t.Errorf("%s: %+v, want nothing", name, got)
		}
	}
	// A ClusterIP Service's nodePort (left from a type change) is ignored,
	// the affinity timeout given is used, the default protocol is TCP.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "b"}, Spec: corev1.ServiceSpec{
		ClusterIP: "10.43.0.9", Ports: []corev1.ServicePort{{Port: 8080, NodePort: 30001}},
		SessionAffinity:       corev1.ServiceAffinityClientIP,
		SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(60))}},
		ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
	}}
	got := ServicePorts(svc, nil, "me", false)
	if len(got) != 1 || got[0].NodePort != 0 || got[0].AffinityTimeout != time.Minute || got[0].Protocol != nft.TCP || got[0].ExternalLocal || got[0].Key() != "b/a/tcp/p8080" {
		t.Errorf("got %+v", got)
	}
}
