package resourcequota

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/quota"
)

// unsyncedRetry is when a quota waiting for a new informer's first list is
// looked at again.
const unsyncedRetry = 200 * time.Millisecond

// sync recomputes one quota's status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	q, err := c.quotas.ResourceQuotas(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	hard := q.Spec.Hard
	byResource := map[schema.GroupResource][]corev1.ResourceName{}
	for n := range hard {
		if gr, ok := quota.CountedResource(n); ok {
			byResource[gr] = append(byResource[gr], n)
		}
	}
	used := corev1.ResourceList{}
	now := c.clock.Now()
	for gr, names := range byResource {
		inf, synced := c.informerFor(ctx, gr)
		if !synced {
			c.queue.AddAfter(key, unsyncedRetry)
			return nil
		}
		if inf == nil {
			continue // not a served namespaced resource
		}
		for _, n := range names {
			used[n] = resource.Quantity{Format: resource.DecimalSI}
		}
		objs, err := inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
		if err != nil {
			return err
		}
		for _, o := range objs {
			m, ok := o.(metav1.Object)
			if !ok {
				continue
			}
			if match, err := quota.Matches(q, hard, gr, m); err != nil || !match {
				continue
			}
			used = quota.Add(used, quota.Mask(quota.Usage(gr, m, now), names))
		}
	}
	if quota.Equal(q.Status.Hard, hard) && quota.Equal(q.Status.Used, used) {
		return nil
	}
	next := q.DeepCopy()
	next.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: used}
	if _, err := c.set.ResourceQuotas(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of quota %s: %w", key, err)
	}
	return nil
}
