package apiserver

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/quota"
	"kserver.dev/kserver/internal/store"
)

// ResourceQuota admission, as upstream's ResourceQuota admission plugin:
// a create is refused with 403 when it would take a quota of its
// namespace over its hard limits ("exceeded quota: …"), when a quota
// limits cpu or memory and a container does not state them ("failed
// quota: …: must specify …"), or when a quota's status has not been
// computed yet ("status unknown for quota: …"). Otherwise the quotas'
// status.used is charged before the object is stored, so concurrent
// creates cannot together overshoot; the resourcequota controller
// recomputes status.used from the objects themselves. Only creates are
// checked (upstream also checks pod resizes and service and claim
// updates).

// quotaRetries bounds the attempts when a quota changes under a charge.
const quotaRetries = 5

type quotaCharge struct {
	kv        store.KeyValue
	q         *corev1.ResourceQuota
	requested corev1.ResourceList
}

// admitQuota checks obj against its namespace's quotas and charges them;
// the returned func gives the charge back (the object was not stored).
func (s *Server) admitQuota(ctx context.Context, c *call, obj runtime.Object, dryRun bool) (func(), error) {
	noop := func() {}
	m := mustAccessor(obj)
	res, ok := s.cfg.Catalog.Lookup(gvr("", "v1", "resourcequotas"))
	if m.GetNamespace() == "" || !ok {
		return noop, nil
	}
	gr := schema.GroupResource{Group: c.res.GroupVersion.Group, Resource: c.res.Resource}
	for try := 0; try < quotaRetries; try++ {
		charges, err := s.quotaCharges(ctx, c, res, gr, obj)
		if err != nil || len(charges) == 0 || dryRun {
			return noop, err
		}
		done, err := s.applyCharges(ctx, charges, 1)
		if err == nil {
			return func() { s.refund(done) }, nil
		}
		s.refund(done)
		if !errors.Is(err, store.ErrConflict) {
			return noop, err
		}
	}
	return noop, apierrors.NewConflict(c.gr, m.GetName(), errors.New("resource quotas changed too often; try again"))
}

// quotaCharges works out what obj takes from each quota that applies.
func (s *Server) quotaCharges(ctx context.Context, c *call, res *registry.Resource, gr schema.GroupResource, obj runtime.Object) ([]quotaCharge, error) {
	m := mustAccessor(obj)
	lr, err := s.cfg.Store.List(ctx, listPrefix(res, m.GetNamespace()), store.ListOptions{})
	if err != nil || len(lr.KVs) == 0 {
		return nil, err
	}
	usage := quota.Usage(gr, m, s.now())
	var out []quotaCharge
	for _, kv := range lr.KVs {
		o, err := s.decodeStored(res.StorageVersion.WithKind(res.Kind), kv)
		if err != nil {
			return nil, err
		}
		q := o.(*corev1.ResourceQuota)
		hard := q.Status.Hard
		if match, err := quota.Matches(q, hard, gr, m); err != nil || !match {
			continue
		}
		limited := quota.Relevant(gr, hard)
		if pod, ok := obj.(*corev1.Pod); ok {
			if err := quota.Constraints(limited, pod); err != nil {
				return nil, apierrors.NewForbidden(c.gr, m.GetName(), fmt.Errorf("failed quota: %s: %w", q.Name, err))
			}
		}
		for _, n := range limited {
			if _, ok := q.Status.Used[n]; !ok {
				return nil, apierrors.NewForbidden(c.gr, m.GetName(), fmt.Errorf("status unknown for quota: %s, resources: %s", q.Name, quota.Names(limited)))
			}
		}
		requested := nonZero(quota.Mask(usage, limited))
		if len(requested) == 0 {
			continue
		}
		names := make([]corev1.ResourceName, 0, len(requested))
		for n := range requested {
			names = append(names, n)
		}
		if exceeded := quota.Exceeded(quota.Mask(quota.Add(q.Status.Used, requested), names), hard); len(exceeded) > 0 {
			return nil, apierrors.NewForbidden(c.gr, m.GetName(), fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
				q.Name, quota.String(quota.Mask(requested, exceeded)), quota.String(quota.Mask(q.Status.Used, exceeded)), quota.String(quota.Mask(hard, exceeded))))
		}
		out = append(out, quotaCharge{kv: kv, q: q, requested: requested})
	}
	return out, nil
}

// applyCharges adds sign × requested to each quota's status.used; it
// returns the charges written (to refund on failure).
func (s *Server) applyCharges(ctx context.Context, charges []quotaCharge, sign int) ([]quotaCharge, error) {
	var done []quotaCharge
	for _, ch := range charges {
		q := ch.q.DeepCopy()
		delta := ch.requested
		if sign < 0 {
			delta = negate(delta)
		}
		q.Status.Used = quota.Add(q.Status.Used, delta)
		data, err := encodeStored(q)
		if err != nil {
			return done, err
		}
		kv, err := s.cfg.Store.Update(ctx, ch.kv.Key, data, ch.kv.ModRevision, store.WriteOptions{})
		if err != nil {
			return done, err
		}
		done = append(done, quotaCharge{kv: kv, q: q, requested: ch.requested})
	}
	return done, nil
}

// refund gives charges back, re-reading a quota that changed meanwhile.
func (s *Server) refund(charges []quotaCharge) {
	ctx := context.Background()
	res, _ := s.cfg.Catalog.Lookup(gvr("", "v1", "resourcequotas"))
	for _, ch := range charges {
		for try := 0; try < quotaRetries; try++ {
			if _, err := s.applyCharges(ctx, []quotaCharge{ch}, -1); !errors.Is(err, store.ErrConflict) {
				break
			}
			kv, err := s.cfg.Store.Get(ctx, ch.kv.Key)
			if err != nil {
				break
			}
			o, err := s.decodeStored(res.StorageVersion.WithKind(res.Kind), kv)
			if err != nil {
				break
			}
			ch.kv, ch.q = kv, o.(*corev1.ResourceQuota)
		}
	}
}

func nonZero(l corev1.ResourceList) corev1.ResourceList {
	for k, v := range l {
		if v.IsZero() {
			delete(l, k)
		}
	}
	return l
}

func negate(l corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range l {
		n := resource.Quantity{Format: v.Format}
		n.Sub(v)
		out[k] = n
	}
	return out
}
