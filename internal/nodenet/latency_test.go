package nodenet_test

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/nft"
	"kserver.dev/kserver/internal/nodenet"
	"kserver.dev/kserver/internal/overlay"
)

// TestEndpointChangeLatency: the time from an EndpointSlice write to the
// API server until the node's kernel has the new endpoint, over 30
// changes (`sudo go test ./internal/nodenet -run Latency -v` logs the
// figures). Each change must arrive within 5 s: an update lost between
// the informer and the proxy would fail it.
func TestEndpointChangeLatency(t *testing.T) {
	netnstest.RequireRoot(t)
	c := e2e.Start(t)
	rc := c.RestConfig(t)
	rc.QPS, rc.Burst = 1000, 1000 // the test's writes, not client-side throttling
	set, err := client.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := netnstest.New(t, "knl")
	startWiring(t, set, ns, func(c *nodenet.Config) { c.Backend = overlay.None })
	if _, err := set.Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lat"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sl, err := set.EndpointSlices("default").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "lat-1", Labels: map[string]string{discoveryv1.LabelServiceName: "lat"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.9"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := nft.Dial(ns.Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	inKernel := func(ip netip.Addr) bool {
		sets, err := conn.Sets("kserver-proxy", nft.IPv4)
		if err != nil {
			return false
		}
		found := false
		for name := range sets {
			if !strings.HasPrefix(name, "service-endpoints-") {
				continue
			}
			_ = conn.Elements("kserver-proxy", nft.IPv4, name, func(e nft.DumpedElement) {
				found = found || bytes.HasPrefix(e.Value, ip.AsSlice())
			})
		}
		return found
	}
	wait := func(ip netip.Addr) time.Duration {
		start := time.Now()
		for !inKernel(ip) {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("endpoint %s not in the kernel after 5 s", ip)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	wait(netip.MustParseAddr("10.42.0.9"))
	var took, writes, watched []time.Duration
	w, err := set.EndpointSlices("default").Watch(ctx, metav1.ListOptions{ResourceVersion: sl.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := range 30 {
		ip := netip.AddrFrom4([4]byte{10, 42, 1, byte(10 + i)})
		sl.Endpoints[0].Addresses = []string{ip.String()}
		start := time.Now()
		if sl, err = set.EndpointSlices("default").Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		writes = append(writes, time.Since(start))
		<-w.ResultChan()
		watched = append(watched, time.Since(start))
		wait(ip)
		took = append(took, time.Since(start)) // from before the write
	}
	for _, d := range [][]time.Duration{took, writes, watched} {
		slices.Sort(d)
	}
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	t.Logf("EndpointSlice write → endpoint in the kernel, 30 changes: p50 %s, p90 %s, max %s (the write itself p50 %s, its watch event p50 %s)",
		r(took[15]), r(took[27]), r(took[29]), r(writes[15]), r(watched[15]))
}
