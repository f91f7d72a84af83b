package scheduler

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Upstream's VolumeBinding reasons.
const (
	reasonVolumeNodeConflict = "node(s) had volume node affinity conflict"
	reasonVolumeBindConflict = "node(s) didn't find available persistent volumes to bind"
	reasonVolumePVMissing    = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
	reasonUnboundImmediate   = "pod has unbound immediate PersistentVolumeClaims"
	// noProvisioner is the provisioner of classes whose volumes are created
	// by hand (local volumes).
	noProvisioner = "kubernetes.io/no-provisioner"
)

// volumeLister reads claims, volumes and classes from informer caches.
type volumeLister interface {
	claim(namespace, name string) (*corev1.PersistentVolumeClaim, error)
	volume(name string) (*corev1.PersistentVolume, error)
	class(name string) (*storagev1.StorageClass, error)
	volumes() []*corev1.PersistentVolume
}

// volumeState is VolumeBinding's pre-filter result: the volumes of the pod's
// bound claims (whose node affinity a node must match) and its claims that
// wait for the pod's node to be chosen (WaitForFirstConsumer).
type volumeState struct {
	bound     []*corev1.PersistentVolume
	pvMissing bool
	delayed   []*corev1.PersistentVolumeClaim
	classes   map[string]*storagev1.StorageClass
	available []*corev1.PersistentVolume // unclaimed volumes, smallest first
}

// claimNames lists the claims the pod's volumes use (generic ephemeral
// volumes use the claim named <pod>-<volume>).
func claimNames(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, pod.Name+"-"+v.Name)
		}
	}
	return out
}

// preFilterVolumes resolves the pod's claims; nil state when it has none.
func preFilterVolumes(pod *corev1.Pod, l volumeLister) (*volumeState, *status) {
	names := claimNames(pod)
	if len(names) == 0 || l == nil {
		return nil, nil
	}
	s := &volumeState{classes: map[string]*storagev1.StorageClass{}}
	for _, name := range names {
		pvc, err := l.claim(pod.Namespace, name)
		if apierrors.IsNotFound(err) || (err == nil && pvc == nil) {
			return nil, newStatus(codeUnresolvable, pluginVolumeBinding, fmt.Sprintf("persistentvolumeclaim %q not found", name))
		}
		if err != nil {
			return nil, errorStatus(pluginVolumeBinding, err)
		}
		if pvc.DeletionTimestamp != nil {
			return nil, newStatus(codeUnresolvable, pluginVolumeBinding, fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
		}
		if st := s.addClaim(pvc, l); st != nil {
			return nil, st
		}
	}
	if len(s.delayed) > 0 {
		s.available = availableVolumes(l.volumes())
	}
	return s, nil
}

func (s *volumeState) addClaim(pvc *corev1.PersistentVolumeClaim, l volumeLister) *status {
	if pvc.Spec.VolumeName != "" {
		pv, err := l.volume(pvc.Spec.VolumeName)
		if err != nil || pv == nil {
			s.pvMissing = true
			return nil
		}
		s.bound = append(s.bound, pv)
		return nil
	}
	className := claimClass(pvc)
	class, err := l.class(className)
	if err != nil || class == nil || class.VolumeBindingMode == nil ||
		*class.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		return newStatus(codeUnresolvable, pluginVolumeBinding, reasonUnboundImmediate)
	}
	s.classes[className] = class
	s.delayed = append(s.delayed, pvc)
	return nil
}

func claimClass(pvc *corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return pvc.Annotations[corev1.BetaStorageClassAnnotation]
}

// availableVolumes returns the volumes not claimed yet, smallest first (a
// claim gets the smallest volume that fits, as upstream).
func availableVolumes(all []*corev1.PersistentVolume) []*corev1.PersistentVolume {
	var out []*corev1.PersistentVolume
	for _, pv := range all {
		if pv.DeletionTimestamp == nil && (pv.Status.Phase == "" || pv.Status.Phase == corev1.VolumeAvailable) {
			out = append(out, pv)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Spec.Capacity[corev1.ResourceStorage], out[j].Spec.Capacity[corev1.ResourceStorage]
		return a.Cmp(b) < 0
	})
	return out
}

// filter is VolumeBinding's filter for node ni.
func (s *volumeState) filter(ni *nodeInfo) *status {
	if s == nil {
		return nil
	}
	if s.pvMissing {
		return newStatus(codeUnresolvable, pluginVolumeBinding, reasonVolumePVMissing)
	}
	for _, pv := range s.bound {
		if !volumeFitsNode(pv, ni.node) {
			return newStatus(codeUnresolvable, pluginVolumeBinding, reasonVolumeNodeConflict)
		}
	}
	if _, ok := s.matches(ni.node); !ok {
		return newStatus(codeUnresolvable, pluginVolumeBinding, reasonVolumeBindConflict)
	}
	return nil
}

// matches finds, for each delayed claim, an available volume usable on
// node (nil where the claim's class will provision one); ok is false when
// a claim can be satisfied neither way.
func (s *volumeState) matches(node *corev1.Node) (map[string]*corev1.PersistentVolume, bool) {
	if s == nil || len(s.delayed) == 0 {
		return nil, true
	}
	chosen := map[string]*corev1.PersistentVolume{}
	taken := map[string]bool{}
	for _, pvc := range s.delayed {
		var match *corev1.PersistentVolume
		for _, pv := range s.available {
			if !taken[pv.Name] && volumeFitsClaim(pv, pvc) && volumeFitsNode(pv, node) {
				match = pv
				break
			}
		}
		if match != nil {
			taken[match.Name] = true
			chosen[pvc.Name] = match
			continue
		}
		class := s.classes[claimClass(pvc)]
		if class.Provisioner == noProvisioner || !topologyAllows(class.AllowedTopologies, node) {
			return nil, false
		}
		chosen[pvc.Name] = nil
	}
	return chosen, true
}

// volumeFitsNode checks the volume's required node affinity.
func volumeFitsNode(pv *corev1.PersistentVolume, node *corev1.Node) bool {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return true
	}
	ok, _ := nodeaffinity.NewLazyErrorNodeSelector(pv.Spec.NodeAffinity.Required).Match(node)
	return ok
}

// volumeFitsClaim is upstream's volume matching: unclaimed (or pre-bound to
// this claim), same class and mode, enough capacity, the access modes and
// the claim's selector.
func volumeFitsClaim(pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) bool {
	if ref := pv.Spec.ClaimRef; ref != nil && (ref.Name != pvc.Name || ref.Namespace != pvc.Namespace ||
		(ref.UID != "" && ref.UID != pvc.UID)) {
		return false
	}
	if pv.Spec.StorageClassName != claimClass(pvc) {
		return false
	}
	if volumeMode(pv.Spec.VolumeMode) != volumeMode(pvc.Spec.VolumeMode) {
		return false
	}
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	have := pv.Spec.Capacity[corev1.ResourceStorage]
	if have.Cmp(want) < 0 {
		return false
	}
	for _, m := range pvc.Spec.AccessModes {
		found := false
		for _, h := range pv.Spec.AccessModes {
			found = found || h == m
		}
		if !found {
			return false
		}
	}
	if pvc.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(pvc.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pv.Labels)) {
			return false
		}
	}
	return true
}

func volumeMode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}

// topologyAllows checks a class's allowedTopologies against node labels.
func topologyAllows(terms []corev1.TopologySelectorTerm, node *corev1.Node) bool {
	if len(terms) == 0 {
		return true
	}
	for _, t := range terms {
		ok := true
		for _, e := range t.MatchLabelExpressions {
			v, has := node.Labels[e.Key]
			found := false
			for _, want := range e.Values {
				found = found || (has && v == want)
			}
			ok = ok && found
		}
		if ok {
			return true
		}
	}
	return false
}
