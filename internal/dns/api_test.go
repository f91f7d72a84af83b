package dns_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/dns"
	"kserver.dev/kserver/internal/e2e"
)

// TestAgainstAPIServer runs the DNS server on informers of a real
// in-process API server: objects created, changed and deleted through the
// API show up in answers. No controllers run in this harness, so the test
// writes the EndpointSlices itself, as the EndpointSlice controller would.
func TestAgainstAPIServer(t *testing.T) {
	cl := e2e.Start(t)
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	clusterDNS := []netip.Addr{netip.MustParseAddr("10.43.0.10")}
	if err := dns.EnsureService(ctx, set, clusterDNS); err != nil {
		t.Fatal(err)
	}
	web := createService(ctx, t, set, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
	createService(ctx, t, set, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}}}})
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "db-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("pg"), Port: ptr.To[int32](5432), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.0.11"}, Hostname: ptr.To("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.42.0.12"}, Hostname: ptr.To("db-1"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		},
	}
	slice, err = set.EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	inf := client.NewInformers(set, 0)
	srv, err := dns.New(dns.Config{Listen: []string{"127.0.0.1:0"}, ClusterDNS: clusterDNS, Upstreams: []string{"127.0.0.1:1"}},
		inf, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	<-srv.Ready()
	addr := srv.Addrs()[0].String()
	ask := func(name string, qtype uint16) (int, []string) {
		r, _, err := (&mdns.Client{Net: "udp", Timeout: 2 * time.Second}).Exchange(new(mdns.Msg).SetQuestion(name, qtype), addr)
		if err != nil {
			return -1, nil
		}
		var out []string
		for _, rr := range r.Answer {
			out = append(out, strings.Join(strings.Fields(rr.String()), " "))
		}
		sort.Strings(out)
		return r.Rcode, out
	}
	expect := func(name string, qtype uint16, rcode int, answer ...string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
			got, ans := ask(name, qtype)
			return got == rcode && slices.Equal(ans, answer), nil
		})
		if err != nil {
			got, ans := ask(name, qtype)
			t.Fatalf("%s %s: rcode %s answer %q, want %s %q", name, mdns.TypeToString[qtype],
				mdns.RcodeToString[got], ans, mdns.RcodeToString[rcode], answer)
		}
	}

	expect("web.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, "web.default.svc.cluster.local. 5 IN A "+web.Spec.ClusterIP)
	expect("kube-dns.kube-system.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, "kube-dns.kube-system.svc.cluster.local. 5 IN A 10.43.0.10")
	expect("10.0.43.10.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess, "10.0.43.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.cluster.local.")
	expect("db.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, "db.default.svc.cluster.local. 5 IN A 10.42.0.11")
	expect("_pg._tcp.db.default.svc.cluster.local.", mdns.TypeSRV, mdns.RcodeSuccess,
		"_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 100 5432 db-0.db.default.svc.cluster.local.")
	expect("db-1.db.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError)
	expect("kube-system.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess)
	expect("nowhere.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError)

	// The second endpoint becomes ready: both answer.
	slice.Endpoints[1].Conditions.Ready = ptr.To(true)
	if _, err := set.EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("db-1.db.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, "db-1.db.default.svc.cluster.local. 5 IN A 10.42.0.12")
	expect("db.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess,
		"db.default.svc.cluster.local. 5 IN A 10.42.0.11", "db.default.svc.cluster.local. 5 IN A 10.42.0.12")

	// A namespace and a Service in it appear; deleting the Service removes it.
	if _, err := set.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("shop.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess)
	createService(ctx, t, set, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: "shop"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "web.default.svc.cluster.local"}})
	expect("cart.shop.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess,
		"cart.shop.svc.cluster.local. 5 IN CNAME web.default.svc.cluster.local.", "web.default.svc.cluster.local. 5 IN A "+web.Spec.ClusterIP)
	if err := set.Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("web.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError)
	expect("cart.shop.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess) // the CNAME's target is gone: NODATA
	if !srv.HasSynced() {
		t.Error("HasSynced false after answers from the informers")
	}
}

func createService(ctx context.Context, t *testing.T, set *client.Set, svc *corev1.Service) *corev1.Service {
	t.Helper()
	got, err := set.Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return got
}

// TestEnsureService: kube-system/kube-dns is created as k3s's, left alone
// when right, repaired when edited and replaced when --cluster-dns changes.
func TestEnsureService(t *testing.T) {
	cl := e2e.Start(t)
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ip := []netip.Addr{netip.MustParseAddr("10.43.0.10")}
	if err := dns.EnsureService(ctx, set, ip); err != nil {
		t.Fatal(err)
	}
	svcs := set.Services("kube-system")
	got, err := svcs.Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.ClusterIP != "10.43.0.10" || got.Labels["k8s-app"] != "kube-dns" || got.Labels["kubernetes.io/cluster-service"] != "true" ||
		got.Labels["kubernetes.io/name"] != "CoreDNS" || len(got.Spec.Selector) != 0 {
		t.Errorf("service: %+v %+v", got.ObjectMeta, got.Spec)
	}
	var ports []string
	for _, p := range got.Spec.Ports {
		ports = append(ports, p.Name+"/"+string(p.Protocol)+"/"+p.TargetPort.String())
	}
	if !slices.Equal(ports, []string{"dns/UDP/53", "dns-tcp/TCP/53", "metrics/TCP/9153"}) {
		t.Errorf("ports %q", ports)
	}
	// Stock kubectl finds it as it finds k3s's CoreDNS.
	res := e2e.FindKubectl(t).Run(cl, "", "cluster-info")
	if res.Err != nil || !strings.Contains(res.Stdout, "\nCoreDNS is running at https://127.0.0.1:"+strconv.Itoa(cl.Port)+
		"/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy\n") {
		t.Errorf("kubectl cluster-info: %v\n%s%s", res.Err, res.Stdout, res.Stderr)
	}
	rv := got.ResourceVersion
	if err := dns.EnsureService(ctx, set, ip); err != nil {
		t.Fatal(err)
	}
	if again, _ := svcs.Get(ctx, "kube-dns", metav1.GetOptions{}); again.ResourceVersion != rv {
		t.Error("EnsureService rewrote a Service that was right")
	}
	// Edited labels and ports are restored.
	got.Labels["kubernetes.io/name"] = "Other"
	got.Spec.Ports = got.Spec.Ports[:1]
	if _, err := svcs.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dns.EnsureService(ctx, set, ip); err != nil {
		t.Fatal(err)
	}
	fixed, _ := svcs.Get(ctx, "kube-dns", metav1.GetOptions{})
	if fixed.Labels["kubernetes.io/name"] != "CoreDNS" || len(fixed.Spec.Ports) != 3 {
		t.Errorf("not repaired: %v %v", fixed.Labels, fixed.Spec.Ports)
	}
	// A new --cluster-dns: the Service is replaced with the new address.
	if err := dns.EnsureService(ctx, set, []netip.Addr{netip.MustParseAddr("10.43.0.53")}); err != nil {
		t.Fatal(err)
	}
	moved, err := svcs.Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil || moved.Spec.ClusterIP != "10.43.0.53" || moved.UID == got.UID {
		t.Errorf("after the address changed: %v %+v", err, moved.Spec)
	}
}
