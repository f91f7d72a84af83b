package endpoints

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// Annotation values upstream uses.
const (
	overCapacityTruncated = "truncated"
	// MaxCapacity is how many addresses one Endpoints object holds.
	MaxCapacity = 1000
)

// sync makes the Endpoints of Service key match its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The Service is gone: so are its Endpoints.
		c.triggers.Forget(key)
		err := c.set.Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		// ExternalName Services have no endpoints; selector-less ones get
		// theirs from whoever writes them (the API server for kubernetes).
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	trigger := c.triggers.Compute(key, svc, pods)
	desired := &corev1.Endpoints{Subsets: Subsets(svc, pods)}
	over := truncate(desired)

	cur, err := c.eps.Endpoints(ns).Get(name)
	create := apierrors.IsNotFound(err)
	if err != nil && !create {
		return err
	}
	if create {
		cur = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	} else if upToDate(cur, svc, desired.Subsets, over) {
		return nil
	}
	ep := cur.DeepCopy()
	ep.Subsets = desired.Subsets
	ep.Labels = maps.Clone(svc.Labels)
	if ep.Labels == nil {
		ep.Labels = map[string]string{}
	}
	if isHeadless(svc) {
		ep.Labels[corev1.IsHeadlessService] = ""
	}
	if ep.Annotations == nil {
		ep.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(ep.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		ep.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	}
	if over {
		ep.Annotations[corev1.EndpointsOverCapacity] = overCapacityTruncated
	} else {
		delete(ep.Annotations, corev1.EndpointsOverCapacity)
	}
	return c.write(ctx, svc, ep, create)
}

func (c *Controller) write(ctx context.Context, svc *corev1.Service, ep *corev1.Endpoints, create bool) error {
	var err error
	if create {
		_, err = c.set.Endpoints(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{})
	} else {
		_, err = c.set.Endpoints(ep.Namespace).Update(ctx, ep, metav1.UpdateOptions{})
	}
	if err == nil {
		return nil
	}
	if create && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil // creates keep failing until the namespace goes
	}
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return err // the cache is behind; the requeue sees the newer object
	}
	if create {
		c.rec.Eventf(ep, corev1.EventTypeWarning, "FailedToCreateEndpoint",
			"Failed to create endpoint for service %v/%v: %v", svc.Namespace, svc.Name, err)
	} else {
		c.rec.Eventf(ep, corev1.EventTypeWarning, "FailedToUpdateEndpoint",
			"Failed to update endpoint %v/%v: %v", svc.Namespace, svc.Name, err)
	}
	return err
}

// upToDate reports whether cur already says what would be written (the
// trigger-time annotation aside, as upstream).
func upToDate(cur *corev1.Endpoints, svc *corev1.Service, subsets []corev1.EndpointSubset, over bool) bool {
	if !apiequality.Semantic.DeepEqual(cur.Subsets, subsets) {
		return false
	}
	curLabels := maps.Clone(cur.Labels)
	_, headless := curLabels[corev1.IsHeadlessService]
	delete(curLabels, corev1.IsHeadlessService)
	if headless != isHeadless(svc) || !apiequality.Semantic.DeepEqual(emptyNil(curLabels), emptyNil(svc.Labels)) {
		return false
	}
	_, marked := cur.Annotations[corev1.EndpointsOverCapacity]
	return marked == over
}

func emptyNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == ""
}
