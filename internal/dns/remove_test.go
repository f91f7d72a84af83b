package dns_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/dns"
	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/server"
)

// TestRemoveService: --disable dns removes kube-dns and its EndpointSlice
// when they are kserver's, and leaves a kube-dns of the user's own DNS.
func TestRemoveService(t *testing.T) {
	cl := e2e.StartWith(t, func(c *server.Config) { c.Disable = append(c.Disable, "controllers", "scheduler", "dns") })
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := dns.EnsureService(ctx, set, []netip.Addr{netip.MustParseAddr("10.43.0.10")}); err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.5"}}}}
	if err := dns.EnsureEndpoints(ctx, set, nil, []*corev1.Node{node}); err != nil {
		t.Fatal(err)
	}
	if err := dns.RemoveService(ctx, set); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kube-dns still there: %v", err)
	}
	if _, err := set.EndpointSlices("kube-system").Get(ctx, dns.EndpointSliceName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kube-dns-nodes still there: %v", err)
	}
	// The user's CoreDNS: selected pods, not ours.
	own := dns.Service([]netip.Addr{netip.MustParseAddr("10.43.0.10")})
	own.Spec.Selector = map[string]string{"k8s-app": "kube-dns"}
	if _, err := set.Services("kube-system").Create(ctx, own, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dns.RemoveService(ctx, set); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{}); err != nil {
		t.Errorf("the user's kube-dns was removed: %v", err)
	}
}
