package nodenet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/overlay"
)

// runOverlay sets the overlay up once this node has its podCIDR,
// publishes the node's side in its annotations, and keeps the peers in
// step with the Node list; every ResyncPeriod it repairs the kernel side.
func (n *Network) runOverlay(ctx context.Context, fd int) error {
	if n.cfg.Backend == overlay.None {
		n.log.Info("overlay disabled (--flannel-backend none): bring your own CNI")
		return nil
	}
	nodes := n.inf.Nodes()
	k := newKicker()
	reg, err := nodes.AddEventHandler(k.handler())
	if err != nil {
		return fmt.Errorf("nodenet: %w", err)
	}
	defer func() { _ = nodes.RemoveEventHandler(reg) }()
	n.inf.Start(ctx)
	if !waitSynced(ctx, reg.HasSynced) {
		return nil
	}
	ov, err := n.setupOverlay(ctx, k, fd)
	if ov == nil || err != nil {
		return err
	}
	defer ov.Close()
	tick := time.NewTicker(n.cfg.ResyncPeriod)
	defer tick.Stop()
	var applied []overlay.Peer
	delay := retryDelay
	retry := time.NewTimer(0)
	<-retry.C
	for {
		peers := Peers(listNodes(nodes.GetStore().List()), n.cfg.NodeName, n.cfg.Backend)
		if !slices.EqualFunc(peers, applied, samePeer) {
			if err := ov.SetPeers(peers); err != nil {
				n.log.Error("programming overlay peers failed", "err", err, "retry", delay)
				retry.Reset(delay)
				delay = min(2*delay, maxRetryDelay)
			} else {
				n.log.Info("overlay peers programmed", "peers", len(peers))
				applied, delay = peers, retryDelay
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-k:
		case <-retry.C:
		case <-tick.C:
			// Setup again (a deleted device), the annotations back on a
			// re-created or edited Node, and every peer entry re-checked.
			if n.publish(ctx, ov) {
				applied = nil
			}
		}
	}
}

// setupOverlay waits for the node's podCIDR, then sets the device and
// masquerade up (retrying failures) and publishes the node's side. It
// returns nil when ctx ended first.
func (n *Network) setupOverlay(ctx context.Context, k kicker, fd int) (*overlay.Overlay, error) {
	nodes := n.inf.Nodes()
	for {
		obj, ok, _ := nodes.GetStore().GetByKey(n.cfg.NodeName)
		if node, isNode := obj.(*corev1.Node); ok && isNode {
			if cidr, ok := PodCIDR(node); ok {
				ov, err := overlay.New(overlay.Config{Backend: n.cfg.Backend, NodeIP: n.cfg.NodeIP, Iface: n.cfg.Iface,
					PodCIDR: cidr, ClusterCIDR: n.cfg.ClusterCIDR, VtepMAC: VtepMAC(node), NetNSFd: fd}, n.log)
				if err != nil {
					return nil, fmt.Errorf("nodenet: %w", err)
				}
				if n.publish(ctx, ov) {
					n.log.Info("overlay set up", "backend", string(n.cfg.Backend), "podCIDR", cidr.String())
					return ov, nil
				}
				ov.Close()
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-k:
		case <-time.After(retryDelay):
		}
	}
}

// publish runs Setup (idempotent) and writes the node's annotations when
// they differ from what the Node has; false when either failed.
func (n *Network) publish(ctx context.Context, ov *overlay.Overlay) bool {
	local, err := ov.Setup()
	if err != nil {
		n.log.Error("overlay setup failed", "err", err)
		return false
	}
	want := Annotations(n.cfg.Backend, local, 1)
	obj, ok, _ := n.inf.Nodes().GetStore().GetByKey(n.cfg.NodeName)
	if node, isNode := obj.(*corev1.Node); ok && isNode && hasAll(node.Annotations, want) {
		return true
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": want}})
	if _, err := n.set.Nodes().Patch(ctx, n.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kserver-network"}); err != nil {
		n.log.Error("publishing the overlay annotations failed", "err", err)
		return false
	}
	return true
}

func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func samePeer(a, b overlay.Peer) bool {
	return a.Name == b.Name && a.PodCIDR == b.PodCIDR && a.PublicIP == b.PublicIP && slices.Equal(a.VtepMAC, b.VtepMAC)
}

func listNodes(objs []any) []*corev1.Node {
	out := make([]*corev1.Node, 0, len(objs))
	for _, o := range objs {
		if n, ok := o.(*corev1.Node); ok {
			out = append(out, n)
		}
	}
	return out
}
