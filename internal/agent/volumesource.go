package agent

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The agent is its volumes' VolumeSource: ConfigMaps and Secrets through
// the object cache, tokens through the token cache, claims from the API.

var _ VolumeSource = (*Agent)(nil)

// ConfigMap reads a ConfigMap (watched while a pod uses it).
func (a *Agent) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return a.objects.configMap(ctx, ns, name)
}

// Secret reads a Secret (watched while a pod uses it).
func (a *Agent) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return a.objects.secret(ctx, ns, name)
}

// Token returns a bound service-account token for a projected volume.
func (a *Agent) Token(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection) (string, time.Time, error) {
	return a.tokens.token(ctx, pod, p)
}

// PersistentVolumeClaim reads a claim from the API.
func (a *Agent) PersistentVolumeClaim(ctx context.Context, ns, name string) (*corev1.PersistentVolumeClaim, error) {
	return a.set.PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
}

// PersistentVolume reads a volume from the API.
func (a *Agent) PersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error) {
	return a.set.PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
}

// Allocatable is the node's allocatable resources as last reported.
func (a *Agent) Allocatable() corev1.ResourceList {
	if n, ok := a.getNode(); ok {
		return n.Status.Allocatable
	}
	return nil
}

// memoryCapacity is the node's memory in bytes (0 when unknown).
func (a *Agent) memoryCapacity() int64 {
	if n, ok := a.getNode(); ok {
		if q, ok := n.Status.Capacity[corev1.ResourceMemory]; ok {
			return q.Value()
		}
	}
	return 0
}

// Versions digests the resource versions of the ConfigMaps and Secrets
// the pod's volumes read; "" when one of them is not watched yet.
func (a *Agent) Versions(pod *corev1.Pod) string {
	var b strings.Builder
	for _, k := range podObjects(pod) {
		rv, ok := a.objects.version(k)
		if !ok {
			return ""
		}
		b.WriteString(rv)
		b.WriteByte(',')
	}
	b.WriteString("-")
	return b.String()
}
