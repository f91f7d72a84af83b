package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// staleRetry is when a Service whose slices the cache has not caught up
// with is looked at again if no informer event comes first.
const staleRetry = time.Second

// sync makes the EndpointSlices of Service key match its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Its slices are owned by it: the garbage collector removes them.
		c.triggers.Forget(key)
		c.written.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil || svc.DeletionTimestamp != nil {
		return nil
	}
	existing, err := c.ownedSlices(ns, name)
	if err != nil {
		return err
	}
	if !c.written.caughtUp(key, existing) {
		// Our last writes have not reached the cache: acting now could
		// duplicate them. Their watch events requeue the Service.
		c.queue.AddAfter(key, staleRetry)
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	trigger := c.triggers.Compute(key, svc, pods)
	p := c.plan(svc, pods, existing)
	if err := c.apply(ctx, key, svc, p, trigger); err != nil {
		c.rec.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s/%s: %v", ns, name, err)
		return err
	}
	return nil
}

// ownedSlices lists the cached slices this controller manages for a Service.
func (c *Controller) ownedSlices(ns, svc string) ([]*discoveryv1.EndpointSlice, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: ManagedBy})
	return c.slices.EndpointSlices(ns).List(sel)
}

// apply writes a plan: creations, then updates, then deletions (upstream's
// order, so that consumers never see a Service's endpoints vanish).
func (c *Controller) apply(ctx context.Context, key string, svc *corev1.Service, p *plan, trigger time.Time) error {
	api := c.set.EndpointSlices(svc.Namespace)
	var errs []error
	for _, s := range p.create {
		c.decorate(svc, s, trigger)
		got, err := api.Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			errs = append(errs, fmt.Errorf("create endpoint slice: %w", err))
			continue
		}
		c.written.wrote(key, got.Name, parseRV(got.ResourceVersion))
	}
	for _, s := range p.update {
		c.decorate(svc, s, trigger)
		got, err := api.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("update endpoint slice %s: %w", s.Name, err))
			continue
		}
		c.written.wrote(key, got.Name, parseRV(got.ResourceVersion))
	}
	for _, s := range p.delete {
		err := api.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete endpoint slice %s: %w", s.Name, err))
			continue
		}
		c.written.wrote(key, s.Name, deletedRV)
	}
	return errors.Join(errs...)
}

// decorate sets what every slice of svc carries: labels, owner, name
// prefix and the trigger-time annotation.
func (c *Controller) decorate(svc *corev1.Service, s *discoveryv1.EndpointSlice, trigger time.Time) {
	s.Labels = sliceLabels(svc)
	if len(s.OwnerReferences) == 0 {
		s.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))}
	}
	if s.Name == "" {
		s.GenerateName = namePrefix(svc.Name)
		s.Namespace = svc.Namespace
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		s.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	}
}

// sliceLabels are the Service's labels plus the two that tie the slice to
// it and to this controller, and the headless marker.
func sliceLabels(svc *corev1.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = ManagedBy
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[corev1.IsHeadlessService] = ""
	} else {
		delete(l, corev1.IsHeadlessService)
	}
	return l
}

// namePrefix is upstream's generateName for a Service's slices.
func namePrefix(svc string) string {
	const max = 63 - 5 // room for the random suffix
	p := svc + "-"
	if len(p) > max {
		p = p[:max]
	}
	return p
}

func parseRV(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}
