package apiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/store"
)

// The ServiceAccount admission plugin, as upstream's: a pod runs as its
// namespace's "default" ServiceAccount unless it names one; the account
// must exist (403 "error looking up service account ns/name: …"); unless
// the pod or the account turn automounting off, every container and init
// container gets the projected kube-api-access-<random> volume (a bound
// token, the cluster CA from ConfigMap kube-root-ca.crt, the namespace)
// mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount.
//
// The default account is made by the serviceaccount controller right after
// a namespace is created, so a pod created at that moment waits for it a
// little, as upstream retries. A control plane without that controller
// (--disable controllers, or tests) never gets default accounts; the
// server tells by kube-system's default account, which the controller
// makes first, and then admits pods of the default account without it.

const (
	defaultServiceAccountName  = "default"
	serviceAccountVolumePrefix = "kube-api-access-"
	serviceAccountMountPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	rootCAConfigMap            = "kube-root-ca.crt"
	mirrorPodAnnotation        = "kubernetes.io/config.mirror"
	// boundTokenExpiration is upstream's expirationSeconds of the projected
	// token (one hour plus seven seconds, which kubelets recognize).
	boundTokenExpiration = 3607
	// defaultAccountWait is how long a pod create waits for the default
	// ServiceAccount of its namespace.
	defaultAccountWait = 3 * time.Second
)

var serviceAccountsGVR = gvr("", "v1", "serviceaccounts")

func (s *Server) admitServiceAccount(ctx context.Context, c *call, pod *corev1.Pod) error {
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = defaultServiceAccountName
	}
	sa, err := s.serviceAccount(ctx, pod.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return c.forbidden(pod, fmt.Errorf("error looking up service account %s/%s: %w", pod.Namespace, pod.Spec.ServiceAccountName, err))
	}
	automount := true
	switch {
	case pod.Spec.AutomountServiceAccountToken != nil:
		automount = *pod.Spec.AutomountServiceAccountToken
	case sa != nil && sa.AutomountServiceAccountToken != nil:
		automount = *sa.AutomountServiceAccountToken
	}
	if automount {
		mountServiceAccountToken(pod)
	}
	return nil
}

// serviceAccount returns the named account; nil, nil when it is the
// default account and no controller makes default accounts.
func (s *Server) serviceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	deadline := time.Now().Add(defaultAccountWait)
	for {
		obj, err := s.getStored(ctx, serviceAccountsGVR, ns, name)
		if err == nil {
			return obj.(*corev1.ServiceAccount), nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
		if name != defaultServiceAccountName {
			return nil, notFound
		}
		if _, err := s.getStored(ctx, serviceAccountsGVR, "kube-system", defaultServiceAccountName); errors.Is(err, store.ErrNotFound) {
			return nil, nil // no serviceaccount controller
		}
		if time.Now().After(deadline) {
			return nil, notFound
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// mountServiceAccountToken adds the token volume and mounts it in every
// container that has nothing at the mount path yet.
func mountServiceAccountToken(pod *corev1.Pod) {
	volume := ""
	for _, v := range pod.Spec.Volumes {
		if len(v.Name) > len(serviceAccountVolumePrefix) && v.Name[:len(serviceAccountVolumePrefix)] == serviceAccountVolumePrefix {
			volume = v.Name
			break
		}
	}
	hasVolume := volume != ""
	if !hasVolume {
		volume = generateName(serviceAccountVolumePrefix)
	}
	mount := corev1.VolumeMount{Name: volume, ReadOnly: true, MountPath: serviceAccountMountPath}
	needed := false
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if !mountsPath(list[i], serviceAccountMountPath) {
				list[i].VolumeMounts = append(list[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if needed && !hasVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{Projected: tokenVolumeSource()}})
	}
}

func mountsPath(c corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// tokenVolumeSource is upstream's projected service-account volume.
func tokenVolumeSource() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](corev1.ProjectedVolumeSourceDefaultMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](boundTokenExpiration)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
}
