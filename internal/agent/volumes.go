package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// HostVolumes makes pods' volumes on the host, under one folder per pod as
// the kubelet's /var/lib/kubelet/pods/<uid>:
//
//	<root>/<uid>/volumes/kubernetes.io~empty-dir/<name>   (tmpfs for medium Memory)
//	<root>/<uid>/volumes/kubernetes.io~configmap/<name>   atomic writer, on disk
//	<root>/<uid>/volumes/kubernetes.io~secret/<name>      atomic writer, on tmpfs
//	<root>/<uid>/volumes/kubernetes.io~downward-api/<name>
//	<root>/<uid>/volumes/kubernetes.io~projected/<name>   atomic writer, on tmpfs
//	<root>/<uid>/etc-hosts                                 the pod's /etc/hosts
//	<root>/<uid>/containers/<container>/<attempt>          termination-message files
//
// hostPath and persistentVolumeClaim volumes (hostPath and local
// PersistentVolumes) are used where they are, after the type checks.
type HostVolumes struct {
	root string

	mu   sync.Mutex
	pods map[types.UID]*podVolumeState
}

// podVolumeState is what the last Setup of a pod found, so that a sync
// whose inputs did not change does no file system work.
type podVolumeState struct {
	inputs  string // pod resource version and the versions of its objects
	result  PodVolumes
	pvPaths map[string]pvPath // resolved claims by volume name
}

type pvPath struct {
	path     string
	readOnly bool
}

// PodVolumes is what Setup prepared for a pod.
type PodVolumes struct {
	// Paths are the host paths by volume name.
	Paths map[string]string
	// ReadOnly volumes are always mounted read-only (configMap, secret,
	// downwardAPI, projected, and read-only claims), as upstream.
	ReadOnly map[string]bool
	// Dir is the pod's folder (etc-hosts, termination messages).
	Dir string
	// Refresh is when Setup must run again although nothing changed (a
	// service-account token to renew); zero for never.
	Refresh time.Time
}

// VolumeSource is what volumes read from the cluster; the agent is one.
type VolumeSource interface {
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	// Token returns a bound service-account token and when to renew it.
	Token(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection) (string, time.Time, error)
	PersistentVolumeClaim(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error)
	PersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error)
	// Allocatable is the node's allocatable resources (limits the
	// downward API reports for containers without one).
	Allocatable() corev1.ResourceList
	// Versions is a digest of the resource versions of the objects the
	// pod's volumes read, or "" when they are not all known.
	Versions(pod *corev1.Pod) string
}

// NewHostVolumes keeps pod folders under root (<data-dir>/agent/pods).
func NewHostVolumes(root string) *HostVolumes {
	return &HostVolumes{root: root, pods: map[types.UID]*podVolumeState{}}
}

// PodDir is a pod's folder.
func (h *HostVolumes) PodDir(uid types.UID) string { return filepath.Join(h.root, string(uid)) }

// volumeKind names a volume's folder as the kubelet's plugins do.
func volumeKind(v *corev1.Volume) string {
	switch {
	case v.EmptyDir != nil:
		return "kubernetes.io~empty-dir"
	case v.ConfigMap != nil:
		return "kubernetes.io~configmap"
	case v.Secret != nil:
		return "kubernetes.io~secret"
	case v.DownwardAPI != nil:
		return "kubernetes.io~downward-api"
	case v.Projected != nil:
		return "kubernetes.io~projected"
	}
	return ""
}

// Setup makes every volume of the pod; it runs on every sync and does
// nothing when neither the pod nor the objects its volumes read changed and
// no token is due. Errors name the volume as the kubelet's FailedMount
// events do.
func (h *HostVolumes) Setup(ctx context.Context, pod *corev1.Pod, src VolumeSource) (PodVolumes, error) {
	h.mu.Lock()
	st := h.pods[pod.UID]
	if st == nil {
		st = &podVolumeState{pvPaths: map[string]pvPath{}}
		h.pods[pod.UID] = st
	}
	h.mu.Unlock()
	inputs := ""
	if v := src.Versions(pod); v != "" {
		inputs = pod.ResourceVersion + "/" + v
	}
	if inputs != "" && inputs == st.inputs && (st.result.Refresh.IsZero() || time.Now().Before(st.result.Refresh)) {
		return st.result, nil
	}
	dir := h.PodDir(pod.UID)
	res := PodVolumes{Paths: map[string]string{}, ReadOnly: map[string]bool{}, Dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "volumes"), 0o750); err != nil {
		return res, err
	}
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		path, ro, refresh, err := h.setupVolume(ctx, pod, v, st, src)
		if err != nil {
			errs = append(errs, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err))
			continue
		}
		res.Paths[v.Name], res.ReadOnly[v.Name] = path, ro
		if !refresh.IsZero() && (res.Refresh.IsZero() || refresh.Before(res.Refresh)) {
			res.Refresh = refresh
		}
	}
	if err := errors.Join(errs...); err != nil {
		st.inputs = ""
		return res, err
	}
	st.inputs, st.result = inputs, res
	return res, nil
}

// setupVolume makes one volume and returns its host path.
func (h *HostVolumes) setupVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, st *podVolumeState,
	src VolumeSource) (path string, readOnly bool, refresh time.Time, err error) {
	kind := volumeKind(v)
	dir := filepath.Join(h.PodDir(pod.UID), "volumes", kind, v.Name)
	owner := payloadOwner{gid: -1}
	if psc := pod.Spec.SecurityContext; psc != nil && psc.FSGroup != nil {
		owner.gid = int(*psc.FSGroup)
	}
	switch {
	case v.EmptyDir != nil:
		return dir, false, time.Time{}, setupEmptyDir(dir, v.EmptyDir, pod, owner)
	case v.HostPath != nil:
		return v.HostPath.Path, false, time.Time{}, checkHostPath(v.HostPath.Path, v.HostPath.Type)
	case v.PersistentVolumeClaim != nil:
		p, err := h.claimPath(ctx, pod, v, st, src)
		return p.path, p.readOnly, time.Time{}, err
	}
	b := newPayload()
	onTmpfs := false
	switch {
	case v.ConfigMap != nil:
		err = b.configMap(ctx, src, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.DefaultMode, optional(v.ConfigMap.Optional))
	case v.Secret != nil:
		onTmpfs = true
		err = b.secret(ctx, src, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.DefaultMode, optional(v.Secret.Optional))
	case v.DownwardAPI != nil:
		err = b.downwardAPI(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode, src.Allocatable())
	case v.Projected != nil:
		onTmpfs = true
		err = b.projected(ctx, src, pod, v.Projected)
	default:
		return "", false, time.Time{}, fmt.Errorf("volume type of %q is not supported on kserver nodes "+
			"(emptyDir, hostPath, configMap, secret, downwardAPI, projected and persistentVolumeClaim are)", v.Name)
	}
	if err != nil {
		return "", false, time.Time{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, time.Time{}, err
	}
	if onTmpfs {
		if err := mountTmpfs(dir, 0, "0755"); err != nil {
			return "", false, time.Time{}, err
		}
	}
	if _, err := writeAtomic(dir, b.files, owner); err != nil {
		return "", false, time.Time{}, fmt.Errorf("write volume files: %w", err)
	}
	if owner.gid >= 0 {
		if err := os.Lchown(dir, -1, owner.gid); err != nil {
			return "", false, time.Time{}, err
		}
	}
	return dir, true, b.refresh, nil
}

// setupEmptyDir makes an emptyDir: a folder (mode 0777, as upstream), or a
// tmpfs for medium Memory sized by sizeLimit, else by the pod's memory
// limit when every container has one.
func setupEmptyDir(dir string, e *corev1.EmptyDirVolumeSource, pod *corev1.Pod, owner payloadOwner) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if e.Medium == corev1.StorageMediumMemory {
		var size int64
		if e.SizeLimit != nil && !e.SizeLimit.IsZero() {
			size = e.SizeLimit.Value()
		} else if lim := podResources(pod).MemoryLimitBytes; lim > 0 {
			size = lim
		}
		if err := mountTmpfs(dir, size, "0777"); err != nil {
			return err
		}
	} else if e.Medium != corev1.StorageMediumDefault {
		return fmt.Errorf("emptyDir medium %q is not supported on kserver nodes", e.Medium)
	}
	mode := os.FileMode(0o777)
	if owner.gid >= 0 {
		if err := os.Lchown(dir, -1, owner.gid); err != nil {
			return err
		}
		mode |= os.ModeSetgid
	}
	return os.Chmod(dir, mode)
}

// claimPath resolves a persistentVolumeClaim volume to the path of its
// bound hostPath or local PersistentVolume (once: a binding does not
// change while the pod runs).
func (h *HostVolumes) claimPath(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, st *podVolumeState, src VolumeSource) (pvPath, error) {
	if p, ok := st.pvPaths[v.Name]; ok {
		return p, nil
	}
	name := v.PersistentVolumeClaim.ClaimName
	pvc, err := src.PersistentVolumeClaim(ctx, pod.Namespace, name)
	if err != nil {
		return pvPath{}, volumeObjectError("persistentvolumeclaim", name, err)
	}
	if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
		return pvPath{}, fmt.Errorf("error processing PVC %s/%s: PVC is not bound", pod.Namespace, name)
	}
	pv, err := src.PersistentVolume(ctx, pvc.Spec.VolumeName)
	if err != nil {
		return pvPath{}, volumeObjectError("persistentvolume", pvc.Spec.VolumeName, err)
	}
	p := pvPath{readOnly: v.PersistentVolumeClaim.ReadOnly}
	switch {
	case pv.Spec.HostPath != nil:
		p.path = pv.Spec.HostPath.Path
		if err := checkHostPath(p.path, pv.Spec.HostPath.Type); err != nil {
			return pvPath{}, err
		}
	case pv.Spec.Local != nil:
		p.path = pv.Spec.Local.Path
		if fi, err := os.Stat(p.path); err != nil || !fi.IsDir() {
			return pvPath{}, fmt.Errorf("local volume %s: path %q does not exist on this node", pv.Name, p.path)
		}
	default:
		return pvPath{}, fmt.Errorf("persistent volume %s: only hostPath and local volumes are supported on kserver nodes", pv.Name)
	}
	st.pvPaths[v.Name] = p
	return p, nil
}

// Teardown unmounts what Setup mounted and removes the pod's folder.
func (h *HostVolumes) Teardown(_ context.Context, uid types.UID) error {
	h.mu.Lock()
	delete(h.pods, uid)
	h.mu.Unlock()
	return removePodDir(h.PodDir(uid))
}

// PodUIDs lists the pods that have a folder (for the cleanup at start).
func (h *HostVolumes) PodUIDs() ([]types.UID, error) {
	entries, err := os.ReadDir(h.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []types.UID
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, types.UID(e.Name()))
		}
	}
	return out, nil
}
