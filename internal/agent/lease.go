package agent

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// LeaseNamespace holds the node heartbeat Leases.
const LeaseNamespace = corev1.NamespaceNodeLease

// leaseKeeper renews the node's Lease, as the kubelet's node lease
// controller: holder = node name, owned by the Node, no acquire time.
type leaseKeeper struct {
	a     *Agent
	lease *coordinationv1.Lease // last stored version
}

// renew updates the lease's renew time, creating the lease if needed. A
// conflict (someone else wrote it) re-reads and tries once more.
func (l *leaseKeeper) renew(ctx context.Context, node *corev1.Node) error {
	leases := l.a.set.Leases(LeaseNamespace)
	for attempt := 0; ; attempt++ {
		if l.lease == nil {
			cur, err := leases.Get(ctx, l.a.cfg.NodeName, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				got, err := leases.Create(ctx, l.desired(nil, node), metav1.CreateOptions{})
				if err != nil {
					return fmt.Errorf("create lease %s: %w", l.a.cfg.NodeName, err)
				}
				l.lease = got
				return nil
			case err != nil:
				return fmt.Errorf("get lease %s: %w", l.a.cfg.NodeName, err)
			}
			l.lease = cur
		}
		got, err := leases.Update(ctx, l.desired(l.lease, node), metav1.UpdateOptions{})
		if err == nil {
			l.lease = got
			return nil
		}
		l.lease = nil
		if (apierrors.IsConflict(err) || apierrors.IsNotFound(err)) && attempt == 0 {
			continue
		}
		return fmt.Errorf("renew lease %s: %w", l.a.cfg.NodeName, err)
	}
}

// desired is cur (or a new lease) renewed now.
func (l *leaseKeeper) desired(cur *coordinationv1.Lease, node *corev1.Node) *coordinationv1.Lease {
	var lease *coordinationv1.Lease
	if cur != nil {
		lease = cur.DeepCopy()
	} else {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.a.cfg.NodeName, Namespace: LeaseNamespace}}
	}
	lease.Spec.HolderIdentity = ptr.To(l.a.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(l.a.cfg.LeaseDuration.Seconds()))
	lease.Spec.RenewTime = &metav1.MicroTime{Time: l.a.clock.Now()}
	if node != nil && node.UID != "" && len(lease.OwnerReferences) == 0 {
		lease.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
		}}
	}
	return lease
}
