package agent

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Default file modes of the API (the API server fills them in; kept here
// for objects that skipped defaulting).
const (
	defaultVolumeMode = 0o644
)

// payloadBuild collects one volume's files; refresh is the earliest time a
// token in it must be renewed.
type payloadBuild struct {
	files   map[string]fileProjection
	refresh time.Time
	// tokenUID owns service-account token files (see tokenOwner).
	tokenUID int
}

func newPayload() *payloadBuild {
	return &payloadBuild{files: map[string]fileProjection{}, tokenUID: -1}
}

func (b *payloadBuild) add(path string, data []byte, mode int32) {
	b.files[path] = fileProjection{data: data, mode: os.FileMode(mode) & 0o777, uid: -1}
}

func modeOr(item, def *int32) int32 {
	switch {
	case item != nil:
		return *item
	case def != nil:
		return *def
	}
	return defaultVolumeMode
}

// keyItems puts the object's keys (all of them, or items) into the payload
// as the configMap and secret plugins do. missing is the error of a key
// that items name but the object lacks.
func (b *payloadBuild) keyItems(data map[string][]byte, items []corev1.KeyToPath, defMode *int32, optional bool,
	missing func(key string) error) error {
	if len(items) == 0 {
		for _, k := range slices.Sorted(maps.Keys(data)) {
			b.add(k, data[k], modeOr(nil, defMode))
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return missing(it.Key)
		}
		b.add(it.Path, v, modeOr(it.Mode, defMode))
	}
	return nil
}

func configMapData(cm *corev1.ConfigMap) map[string][]byte {
	out := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	return out
}

// configMap adds a ConfigMap's keys; a missing optional ConfigMap adds
// nothing.
func (b *payloadBuild) configMap(ctx context.Context, src VolumeSource, ns, name string, items []corev1.KeyToPath,
	defMode *int32, optional bool) error {
	cm, err := src.ConfigMap(ctx, ns, name)
	if apierrors.IsNotFound(err) && optional {
		return nil
	}
	if err != nil {
		return volumeObjectError("configmap", name, err)
	}
	return b.keyItems(configMapData(cm), items, defMode, optional, func(key string) error {
		return fmt.Errorf("configmap references non-existent config key: %s", key)
	})
}

// secret adds a Secret's keys; a missing optional Secret adds nothing.
func (b *payloadBuild) secret(ctx context.Context, src VolumeSource, ns, name string, items []corev1.KeyToPath,
	defMode *int32, optional bool) error {
	s, err := src.Secret(ctx, ns, name)
	if apierrors.IsNotFound(err) && optional {
		return nil
	}
	if err != nil {
		return volumeObjectError("secret", name, err)
	}
	return b.keyItems(s.Data, items, defMode, optional, func(key string) error {
		return fmt.Errorf("secret references non-existent secret key: %s", key)
	})
}

// volumeObjectError is how the kubelet words a missing object: `configmap
// "x" not found`.
func volumeObjectError(kind, name string, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %q not found", kind, name)
	}
	return err
}

// downwardAPI adds the downward API items of a volume or projection.
func (b *payloadBuild) downwardAPI(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defMode *int32,
	allocatable corev1.ResourceList) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = volumeFieldValue(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = resourceFieldValue(pod, it.ResourceFieldRef, allocatable)
		}
		if err != nil {
			return err
		}
		b.add(it.Path, []byte(v), modeOr(it.Mode, defMode))
	}
	return nil
}

// volumeFieldValue is a pod field as the downward API volume writes it:
// labels and annotations as sorted key="value" lines.
func volumeFieldValue(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", path)
}

// formatMap is the downward API's rendering of labels and annotations.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// projected adds every source of a projected volume.
func (b *payloadBuild) projected(ctx context.Context, src VolumeSource, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) error {
	for _, s := range p.Sources {
		var err error
		switch {
		case s.ConfigMap != nil:
			err = b.configMap(ctx, src, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, p.DefaultMode, optional(s.ConfigMap.Optional))
		case s.Secret != nil:
			err = b.secret(ctx, src, pod.Namespace, s.Secret.Name, s.Secret.Items, p.DefaultMode, optional(s.Secret.Optional))
		case s.DownwardAPI != nil:
			err = b.downwardAPI(pod, s.DownwardAPI.Items, p.DefaultMode, src.Allocatable())
		case s.ServiceAccountToken != nil:
			err = b.token(ctx, src, pod, s.ServiceAccountToken, p.DefaultMode)
		case s.ClusterTrustBundle != nil, s.PodCertificate != nil:
			err = fmt.Errorf("projected volume source %s is not supported on kserver nodes", projectedKind(s))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func projectedKind(s corev1.VolumeProjection) string {
	if s.ClusterTrustBundle != nil {
		return "clusterTrustBundle"
	}
	return "podCertificate"
}

func optional(b *bool) bool { return b != nil && *b }

// token adds a bound service-account token. As the kubelet, when the pod
// has no fsGroup and all its containers run as one user, the token file
// belongs to that user with mode 0600, so non-root containers can read it.
func (b *payloadBuild) token(ctx context.Context, src VolumeSource, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection, defMode *int32) error {
	tok, refresh, err := src.Token(ctx, pod, p)
	if err != nil {
		return err
	}
	mode := modeOr(nil, defMode)
	f := fileProjection{data: []byte(tok), mode: os.FileMode(mode) & 0o777, uid: -1}
	if uid, ok := tokenOwner(pod); ok {
		f.mode, f.uid = 0o600, int(uid)
	}
	b.files[p.Path] = f
	if b.refresh.IsZero() || refresh.Before(b.refresh) {
		b.refresh = refresh
	}
	return nil
}

// tokenOwner is the one runAsUser of every container, when the pod has no
// fsGroup.
func tokenOwner(pod *corev1.Pod) (int64, bool) {
	psc := pod.Spec.SecurityContext
	if psc != nil && psc.FSGroup != nil {
		return 0, false
	}
	var uid *int64
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			u := (*int64)(nil)
			if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
				u = c.SecurityContext.RunAsUser
			} else if psc != nil {
				u = psc.RunAsUser
			}
			if u == nil || (uid != nil && *uid != *u) {
				return 0, false
			}
			uid = u
		}
	}
	return derefOr(uid, 0), uid != nil && *uid != 0
}

func derefOr(p *int64, d int64) int64 {
	if p == nil {
		return d
	}
	return *p
}
