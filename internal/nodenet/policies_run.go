package nodenet

import (
	"context"
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/netpol"
	"kserver.dev/kserver/internal/nft"
)

// policyDriver enforces NetworkPolicies for this node's pods. It watches
// NetworkPolicies from the start but Pods and Namespaces only once the
// first policy exists: a node without policies holds no copy of every
// pod of the cluster.
type policyDriver struct {
	n        *Network
	policies cache.SharedIndexInformer
	k        kicker
}

func newPolicyDriver(n *Network) *policyDriver {
	return &policyDriver{n: n, policies: n.inf.NetworkPolicies(), k: newKicker()}
}

func (d *policyDriver) run(ctx context.Context, fd int) error {
	en, err := netpol.New(netpol.Config{Family: nft.IPv4, NetNSFd: fd}, d.n.log)
	if err != nil {
		return fmt.Errorf("nodenet: %w", err)
	}
	defer en.Close()
	reg, err := d.policies.AddEventHandler(d.k.handler())
	if err != nil {
		return fmt.Errorf("nodenet: %w", err)
	}
	defer func() { _ = d.policies.RemoveEventHandler(reg) }()
	d.n.inf.Start(ctx)
	if !waitSynced(ctx, reg.HasSynced) {
		return nil
	}
	var pods, namespaces cache.SharedIndexInformer // once a policy exists
	var applied []netpol.Policy
	synced := false
	tick := time.NewTicker(d.n.cfg.ResyncPeriod)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		nps := listPolicies(d.policies.GetStore().List())
		if len(nps) > 0 && pods == nil {
			pods, namespaces = d.n.inf.Pods(), d.n.inf.Namespaces()
			r1, err1 := pods.AddEventHandler(d.k.handler())
			r2, err2 := namespaces.AddEventHandler(d.k.handler())
			if err1 != nil || err2 != nil {
				return fmt.Errorf("nodenet: pods and namespaces handlers: %v, %v", err1, err2)
			}
			defer func() { _ = pods.RemoveEventHandler(r1); _ = namespaces.RemoveEventHandler(r2) }()
			d.n.inf.Start(ctx)
			if !waitSynced(ctx, r1.HasSynced, r2.HasSynced) {
				return nil
			}
		}
		var want []netpol.Policy
		if len(nps) > 0 {
			want = Policies(nps, PolicyInput{Pods: listPods(pods.GetStore().List()),
				Namespaces: listNamespaces(namespaces.GetStore().List()), Node: d.n.cfg.NodeName})
		}
		if !synced || !reflect.DeepEqual(want, applied) {
			if err := en.Sync(want); err != nil {
				d.n.log.Error("programming NetworkPolicies failed", "err", err)
				retry.Reset(retryDelay)
			} else {
				applied, synced = want, true
				d.n.log.Debug("NetworkPolicies programmed", "policies", len(want))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.k:
		case <-retry.C:
		case <-tick.C:
			synced = false // rewrite the table: repairs any drift
		}
	}
}

func listPolicies(objs []any) []*networkingv1.NetworkPolicy {
	out := make([]*networkingv1.NetworkPolicy, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*networkingv1.NetworkPolicy); ok {
			out = append(out, p)
		}
	}
	return out
}

func listPods(objs []any) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

func listNamespaces(objs []any) []*corev1.Namespace {
	out := make([]*corev1.Namespace, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Namespace); ok {
			out = append(out, p)
		}
	}
	return out
}

// cleanupPolicies removes our NetworkPolicy table (--disable network-policy).
func (n *Network) cleanupPolicies(fd int) {
	en, err := netpol.New(netpol.Config{Family: nft.IPv4, NetNSFd: fd}, n.log)
	if err == nil {
		err = en.Cleanup()
		_ = en.Close()
	}
	if err != nil {
		n.log.Warn("removing the NetworkPolicy table", "err", err)
	}
}
