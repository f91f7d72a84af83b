package servicelb_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/servicelb"
	"kserver.dev/kserver/internal/e2e"
)

type fixture struct {
	*controllertest.Env
	t *testing.T
	c *servicelb.Controller
}

// newFixture starts an API server and the controller running with its
// informers, as the control plane runs it.
func newFixture(t *testing.T) *fixture {
	cfg := e2e.Start(t).RestConfig(t)
	cfg.QPS = -1
	env := controllertest.New(t, cfg)
	rec, b := client.NewRecorder(env.Set, servicelb.Component)
	t.Cleanup(b.Shutdown)
	f := &fixture{Env: env, t: t, c: servicelb.New(servicelb.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})}
	env.Start()
	go func() { _ = f.c.Run(env.Ctx, 1) }()
	return f
}

// node creates (or updates) a node with labels, readiness and addresses
// ("InternalIP=10.0.0.1").
func (f *fixture) node(name string, ready bool, lbls map[string]string, addrs ...string) {
	f.t.Helper()
	nodes := f.Set.Nodes()
	n, err := nodes.Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		n, err = nodes.Create(f.Ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}, metav1.CreateOptions{})
	} else {
		n.Labels = lbls
		n, err = nodes.Update(f.Ctx, n, metav1.UpdateOptions{})
	}
	if err != nil {
		f.t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	n.Status.Addresses = nil
	for _, a := range addrs {
		typ, ip, _ := strings.Cut(a, "=")
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeAddressType(typ), Address: ip})
	}
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	if _, err := nodes.UpdateStatus(f.Ctx, n, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) service(name string, lbls map[string]string, mutate func(*corev1.ServiceSpec)) {
	f.t.Helper()
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: lbls},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
	if mutate != nil {
		mutate(&s.Spec)
	}
	s, err := f.Set.Services("default").Create(f.Ctx, s, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.Cached(f.Inf.Services(), s)
}

// ingress is the Service's ingress list as stored.
func (f *fixture) ingress(name string) []string {
	f.t.Helper()
	s, err := f.Set.Services("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, i := range s.Status.LoadBalancer.Ingress {
		if i.IPMode == nil || *i.IPMode != corev1.LoadBalancerIPModeVIP {
			f.t.Errorf("service %s: ingress %s without ipMode VIP", name, i.IP)
		}
		out = append(out, i.IP)
	}
	return out
}

// wantIngress waits until the Service lists exactly want.
func (f *fixture) wantIngress(name string, want ...string) {
	f.t.Helper()
	var got []string
	f.Eventually("ingress of "+name+" = "+strings.Join(want, ","), func() bool {
		got = f.ingress(name)
		return slices.Equal(got, want)
	})
}

func TestAddressesFollowNodes(t *testing.T) {
	f := newFixture(t)
	f.node("a", true, nil, "InternalIP=10.0.0.2")
	f.node("b", true, nil, "InternalIP=10.0.0.1")
	f.service("web", nil, nil)
	f.wantIngress("web", "10.0.0.1", "10.0.0.2")
	f.WaitEvent("default", "Service", "web", "Normal EnsuredLoadBalancer Ensured load balancer")
	f.WaitEvent("default", "Service", "web", "Normal UpdatedLoadBalancer Updated LoadBalancer with new IPs: [] -> [10.0.0.1 10.0.0.2]")

	// A node turning NotReady leaves; a new node joins.
	f.node("b", false, nil, "InternalIP=10.0.0.1")
	f.wantIngress("web", "10.0.0.2")
	f.WaitEvent("default", "Service", "web", "Normal UpdatedLoadBalancer Updated LoadBalancer with new IPs: [10.0.0.1 10.0.0.2] -> [10.0.0.2]")
	f.node("c", true, nil, "InternalIP=10.0.0.3")
	f.wantIngress("web", "10.0.0.2", "10.0.0.3")

	// An ExternalIP anywhere wins over every InternalIP.
	f.node("c", true, nil, "InternalIP=10.0.0.3", "ExternalIP=203.0.113.3")
	f.wantIngress("web", "203.0.113.3")
	// The choice is per family: an IPv6 ExternalIP does not take the
	// IPv4 Service's addresses away.
	f.node("c", true, nil, "InternalIP=10.0.0.3", "ExternalIP=2001:db8::3")
	f.wantIngress("web", "10.0.0.2", "10.0.0.3")
	f.node("c", true, nil, "InternalIP=10.0.0.3")
	f.wantIngress("web", "10.0.0.2", "10.0.0.3")

	// Upstream's exclusion label.
	f.node("c", true, map[string]string{servicelb.ExcludeLabel: ""}, "InternalIP=10.0.0.3")
	f.wantIngress("web", "10.0.0.2")

	// A deleted node leaves; with no node left the Service has no address
	// and a warning says why.
	if err := f.Set.Nodes().Delete(f.Ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.wantIngress("web")
	f.WaitEvent("default", "Service", "web", "Warning UnAvailableLoadBalancer There are no available nodes for LoadBalancer")
	f.node("b", true, nil, "InternalIP=10.0.0.1")
	f.wantIngress("web", "10.0.0.1")

	// No longer a LoadBalancer: the addresses are cleared.
	s, err := f.Set.Services("default").Get(f.Ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Type = corev1.ServiceTypeClusterIP
	for i := range s.Spec.Ports {
		s.Spec.Ports[i].NodePort = 0
	}
	s.Spec.ExternalTrafficPolicy = ""
	if _, err := f.Set.Services("default").Update(f.Ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.wantIngress("web")
	f.WaitEvent("default", "Service", "web", "Normal DeletedLoadBalancer Deleted load balancer")
}

func TestEnableLabelAndPools(t *testing.T) {
	f := newFixture(t)
	f.node("a", true, nil, "InternalIP=10.0.0.1")
	f.node("b", true, nil, "InternalIP=10.0.0.2")
	f.node("c", true, nil, "InternalIP=10.0.0.3")
	f.service("any", nil, nil)
	f.service("pooled", map[string]string{servicelb.PoolLabel: "blue"}, func(s *corev1.ServiceSpec) { s.Ports[0].Port = 81 })
	// Without any enablelb label every node serves, pools or not (k3s).
	f.wantIngress("any", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	f.wantIngress("pooled", "10.0.0.1", "10.0.0.2", "10.0.0.3")

	// Once a node has the label, only nodes with "true" serve.
	f.node("a", true, map[string]string{servicelb.EnableLabel: "true", servicelb.PoolLabel: "red"}, "InternalIP=10.0.0.1")
	f.node("b", true, map[string]string{servicelb.EnableLabel: "false", servicelb.PoolLabel: "blue"}, "InternalIP=10.0.0.2")
	f.node("c", true, map[string]string{servicelb.EnableLabel: "true", servicelb.PoolLabel: "blue"}, "InternalIP=10.0.0.3")
	f.wantIngress("any", "10.0.0.1", "10.0.0.3")
	f.wantIngress("pooled", "10.0.0.3")

	// A pool without enabled nodes leaves its Services without address.
	f.node("c", true, map[string]string{servicelb.EnableLabel: "true", servicelb.PoolLabel: "green"}, "InternalIP=10.0.0.3")
	f.wantIngress("pooled")
	f.wantIngress("any", "10.0.0.1", "10.0.0.3")
}

// A node serves one Service per protocol and port (k3s: the hostPort of
// the newer Service's pod is taken); the older Service keeps it.
func TestPortsHoldNodes(t *testing.T) {
	f := newFixture(t)
	f.node("a", true, nil, "InternalIP=10.0.0.1")
	f.node("b", true, nil, "InternalIP=10.0.0.2")
	f.service("first", nil, nil)
	f.wantIngress("first", "10.0.0.1", "10.0.0.2")
	f.service("second", nil, func(s *corev1.ServiceSpec) {
		s.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "web", Port: 80, Protocol: corev1.ProtocolTCP}}
	})
	f.service("udp", nil, func(s *corev1.ServiceSpec) { s.Ports[0].Protocol = corev1.ProtocolUDP })
	f.wantIngress("udp", "10.0.0.1", "10.0.0.2")
	if err := f.c.Sync(f.Ctx, "default/second"); err != nil {
		t.Fatal(err)
	}
	if got := f.ingress("second"); len(got) != 0 {
		t.Fatalf("second service on port 80 got %v while the first holds every node", got)
	}
	if err := f.Set.Services("default").Delete(f.Ctx, "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.wantIngress("second", "10.0.0.1", "10.0.0.2")
}

func TestLocalTrafficPolicyUsesNodesWithReadyEndpoints(t *testing.T) {
	f := newFixture(t)
	f.node("a", true, nil, "InternalIP=10.0.0.1")
	f.node("b", true, nil, "InternalIP=10.0.0.2")
	f.service("local", nil, func(s *corev1.ServiceSpec) { s.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal })
	if err := f.c.Sync(f.Ctx, "default/local"); err != nil {
		t.Fatal(err)
	}
	if got := f.ingress("local"); len(got) != 0 {
		t.Fatalf("no endpoints, yet ingress %v", got)
	}
	ep := func(ip, node string, ready bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p-" + node}}
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "local-x", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "local", discoveryv1.LabelManagedBy: "test"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{ep("10.42.1.5", "b", true), ep("10.42.0.5", "a", false)},
		Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](8080)}},
	}
	slice, err := f.Set.EndpointSlices("default").Create(f.Ctx, slice, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.wantIngress("local", "10.0.0.2")
	slice.Endpoints[1].Conditions.Ready = ptr.To(true)
	if _, err := f.Set.EndpointSlices("default").Update(f.Ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.wantIngress("local", "10.0.0.1", "10.0.0.2")
}

func TestOtherClassesAndDisabledAreLeftAlone(t *testing.T) {
	f := newFixture(t)
	f.node("a", true, nil, "InternalIP=10.0.0.1")
	f.service("metallb", nil, func(s *corev1.ServiceSpec) { s.LoadBalancerClass = ptr.To("metallb.io/metallb") })
	f.service("ours", nil, func(s *corev1.ServiceSpec) { s.LoadBalancerClass = ptr.To(servicelb.Class) })
	f.wantIngress("ours", "10.0.0.1")
	// The other class's Service was synced too (same queue, earlier) and
	// is still without addresses; a direct sync changes nothing.
	if err := f.c.Sync(f.Ctx, "default/metallb"); err != nil {
		t.Fatal(err)
	}
	if got := f.ingress("metallb"); len(got) != 0 {
		t.Fatalf("service of another load-balancer class got %v", got)
	}
	if ev := f.Events("default", "Service", "metallb"); len(ev) != 0 {
		t.Fatalf("events about another class's service: %q", ev)
	}
}
