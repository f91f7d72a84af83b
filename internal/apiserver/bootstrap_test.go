package apiserver

import (
	"context"
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBootstrapIsIdempotentAndFollowsTheNodeAddress(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	rev := ts.cfg.Store.CurrentRevision()

	// A second start with the same settings writes nothing.
	cfg := ts.cfg
	again, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ts.cfg.Store.CurrentRevision(); got != rev {
		t.Errorf("restart bootstrap wrote %d revisions", got-rev)
	}

	// A start on a new node address moves the kubernetes endpoints.
	cfg.AdvertiseAddress = netip.MustParseAddr("192.0.2.9")
	moved, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := moved.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	cs := clientset(t, ts.admin)
	ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || ep.Subsets[0].Addresses[0].IP != "192.0.2.9" || ep.Subsets[0].Ports[0].Port != 6443 {
		t.Fatalf("endpoints after move: %v %+v", err, ep)
	}
	es, err := cs.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || es.Endpoints[0].Addresses[0] != "192.0.2.9" {
		t.Fatalf("endpointslice after move: %v %+v", err, es)
	}
	svc, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "10.43.0.1" || svc.Spec.Ports[0].Port != 443 {
		t.Fatalf("kubernetes service: %v %+v", err, svc)
	}
}
