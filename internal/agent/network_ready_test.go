package agent

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/runtime/sim"
)

// lateNetwork is a pod network that is not ready until it gets the node's
// pod CIDRs, as CNINetwork.
type lateNetwork struct {
	*SimNetwork
	mu    sync.Mutex
	cidrs []netip.Prefix
}

func (n *lateNetwork) SetPodCIDRs(_ context.Context, cidrs []netip.Prefix, _ func() (map[string]bool, error)) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	changed := len(n.cidrs) == 0
	n.cidrs = cidrs
	return changed, nil
}

func (n *lateNetwork) Ready() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.cidrs) == 0 {
		return errors.New("no pod network yet")
	}
	return nil
}

// A node whose pod CIDR is known when the agent starts is Ready as soon
// as the network is configured, not at the next status report (an hour
// here): registration wrote it NotReady a moment before.
func TestNodeReadyOnceNetworkConfigured(t *testing.T) {
	set := startAPI(t)
	ctx := context.Background()
	_, err := set.Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Spec: corev1.NodeSpec{PodCIDR: "10.42.3.0/24", PodCIDRs: []string{"10.42.3.0/24"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := simConfig("n1", nil)
	cfg.StatusUpdateInterval = time.Hour
	cfg.Logger = testLogger(t)
	net := &lateNetwork{SimNetwork: NewSimNetwork(func() netip.Prefix { return netip.MustParsePrefix("10.42.3.0/24") })}
	n := &node{rt: sim.New(sim.Config{}), parts: Parts{Network: net}}
	n.parts.Runtime = n.rt
	n.run(t, set, cfg)
	waitNodeReady(t, set, "n1")
}
