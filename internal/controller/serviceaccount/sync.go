package serviceaccount

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sync ensures namespace ns holds its default ServiceAccount and root CA
// ConfigMap.
func (c *Controller) sync(ctx context.Context, ns string) error {
	n, err := c.ns.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.DeletionTimestamp != nil || n.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	if err := c.ensureServiceAccount(ctx, ns); err != nil {
		return err
	}
	if c.publish {
		return c.ensureRootCA(ctx, ns)
	}
	return nil
}

func (c *Controller) ensureServiceAccount(ctx context.Context, ns string) error {
	if _, err := c.sas.ServiceAccounts(ns).Get(DefaultName); err == nil {
		return nil
	}
	_, err := c.set.ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: ns}}, metav1.CreateOptions{})
	if err == nil || apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return fmt.Errorf("create serviceaccount %s/%s: %w", ns, DefaultName, err)
}

func (c *Controller) ensureRootCA(ctx context.Context, ns string) error {
	cm, err := c.cms.ConfigMaps(ns).Get(RootCAConfigMap)
	if apierrors.IsNotFound(err) {
		_, err := c.set.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: RootCAConfigMap, Namespace: ns,
				Annotations: map[string]string{descriptionAnnotation: description}},
			Data: map[string]string{RootCAKey: c.rootCA},
		}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return fmt.Errorf("create configmap %s/%s: %w", ns, RootCAConfigMap, err)
	}
	if err != nil {
		return err
	}
	if len(cm.Data) == 1 && cm.Data[RootCAKey] == c.rootCA && len(cm.BinaryData) == 0 &&
		cm.Annotations[descriptionAnnotation] == description {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = map[string]string{RootCAKey: c.rootCA}
	cm.BinaryData = nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[descriptionAnnotation] = description
	if _, err := c.set.ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update configmap %s/%s: %w", ns, RootCAConfigMap, err)
	}
	return nil
}
