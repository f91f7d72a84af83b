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

	pods, namespaces cache.SharedIndexInformer // once a policy exists
	regs             []registration
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
	var applied []netpol.Policy
	synced := false
	delay := retryDelay
	tick := time.NewTicker(d.n.cfg.ResyncPeriod)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer d.unwatch()
	for {
		want, ok := d.desired(ctx)
		if !ok {
			return nil // ctx ended
		}
		if !synced || !reflect.DeepEqual(want, applied) {
			// Without a policy for this node's pods no table is needed (nor
			// the bridge netfilter switch the enforcer turns on).
			program := func() error { return en.Sync(want) }
			if len(want) == 0 {
				program = en.Cleanup
			}
			if err := program(); err != nil {
				d.n.log.Error("programming NetworkPolicies failed", "err", err, "retry", delay)
				retry.Reset(delay)
				delay = min(2*delay, maxRetryDelay)
			} else {
				applied, synced, delay = want, true, retryDelay
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

// desired resolves the policies, first starting the Pod and Namespace
// informers when a policy exists; false when ctx ended meanwhile.
func (d *policyDriver) desired(ctx context.Context) ([]netpol.Policy, bool) {
	nps := listPolicies(d.policies.GetStore().List())
	if len(nps) == 0 {
		return nil, true
	}
	if d.pods == nil {
		d.pods, d.namespaces = d.n.inf.Pods(), d.n.inf.Namespaces()
		for _, i := range []cache.SharedIndexInformer{d.pods, d.namespaces} {
			reg, err := i.AddEventHandler(d.k.handler())
			if err != nil { // only when the informer was stopped: ctx ended
				return nil, false
			}
			d.regs = append(d.regs, registration{i, reg})
		}
		d.n.inf.Start(ctx)
		if !waitSynced(ctx, d.regs[0].reg.HasSynced, d.regs[1].reg.HasSynced) {
			return nil, false
		}
	}
	return Policies(nps, PolicyInput{Pods: listPods(d.pods.GetStore().List()),
		Namespaces: listNamespaces(d.namespaces.GetStore().List()), Node: d.n.cfg.NodeName}), true
}

type registration struct {
	inf cache.SharedIndexInformer
	reg cache.ResourceEventHandlerRegistration
}

func (d *policyDriver) unwatch() {
	for _, r := range d.regs {
		_ = r.inf.RemoveEventHandler(r.reg)
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

// cleanupPolicies removes our NetworkPolicy table (--disable
// network-policy, Teardown).
func (n *Network) cleanupPolicies(fd int) error {
	en, err := netpol.New(netpol.Config{Family: nft.IPv4, NetNSFd: fd}, n.log)
	if err != nil {
		return err
	}
	defer en.Close()
	return en.Cleanup()
}
