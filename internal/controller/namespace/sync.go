package namespace

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// finalizerEstimate is upstream's guess of how long objects with
// finalizers take to go.
const finalizerEstimate = 15 * time.Second

// sync deletes the content of a terminating namespace and finalizes it.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.ns.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.DeletionTimestamp == nil {
		return nil
	}
	// Several writers touch a terminating namespace: work from the latest.
	ns, err := c.set.Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		ns = ns.DeepCopy()
		ns.Status.Phase = corev1.NamespaceTerminating
		if ns, err = c.set.Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return ignoreNotFound(err)
		}
	}
	if len(ns.Spec.Finalizers) == 0 {
		return c.deleteNamespace(ctx, ns)
	}
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil // other finalizers: their owners' business
	}
	left := c.deleteContent(ctx, ns.Name)
	if ns, err = c.reportConditions(ctx, ns, left); err != nil || ns == nil {
		return err
	}
	if left.remaining() {
		wait := max(left.estimate/2+time.Second, time.Second)
		c.queue.AddAfter(name, wait)
		return nil
	}
	return c.finalize(ctx, ns)
}

// finalize removes "kubernetes" from spec.finalizers; the API server
// deletes the namespace when none is left.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	ns = ns.DeepCopy()
	ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	var out corev1.Namespace
	err := c.set.REST(corev1.SchemeGroupVersion).Put().Resource("namespaces").Name(ns.Name).SubResource("finalize").
		Body(ns).Do(ctx).Into(&out)
	if err != nil {
		return ignoreNotFound(fmt.Errorf("finalize namespace %s: %w", ns.Name, err))
	}
	if len(out.Spec.Finalizers) == 0 && out.UID != "" {
		return c.deleteNamespace(ctx, &out)
	}
	return nil
}

func (c *Controller) deleteNamespace(ctx context.Context, ns *corev1.Namespace) error {
	uid := ns.UID
	err := c.set.Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	return ignoreNotFound(err)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
