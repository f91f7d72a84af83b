package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

type fakeVolumes struct {
	claims  map[string]*corev1.PersistentVolumeClaim
	pvs     map[string]*corev1.PersistentVolume
	classes map[string]*storagev1.StorageClass
}

func (f *fakeVolumes) claim(ns, name string) (*corev1.PersistentVolumeClaim, error) {
	if c, ok := f.claims[name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumeclaims"}, name)
}
func (f *fakeVolumes) volume(name string) (*corev1.PersistentVolume, error) {
	if v, ok := f.pvs[name]; ok {
		return v, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumes"}, name)
}
func (f *fakeVolumes) class(name string) (*storagev1.StorageClass, error) {
	if c, ok := f.classes[name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "storageclasses"}, name)
}
func (f *fakeVolumes) volumes() []*corev1.PersistentVolume {
	var out []*corev1.PersistentVolume
	for _, v := range f.pvs {
		out = append(out, v)
	}
	return out
}

func localPV(name, node, class, size string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
		StorageClassName: class, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}},
	}}
}

func claim(name, class, volume string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("c-" + name)},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), VolumeName: volume,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
}

func usesClaim(name string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "v-" + name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}})
	}
}

func TestVolumeBindingFilter(t *testing.T) {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	immediate := storagev1.VolumeBindingImmediate
	vols := &fakeVolumes{
		claims: map[string]*corev1.PersistentVolumeClaim{
			"bound":   claim("bound", "local", "pv-on-n1"),
			"lost":    claim("lost", "local", "pv-missing"),
			"later":   claim("later", "local", ""),
			"now":     claim("now", "fast", ""),
			"dynamic": claim("dynamic", "cloud", ""),
		},
		pvs: map[string]*corev1.PersistentVolume{
			"pv-on-n1":  boundTo(localPV("pv-on-n1", "n1", "local", "10Gi"), "bound"),
			"free-n2":   localPV("free-n2", "n2", "local", "5Gi"),
			"too-small": localPV("too-small", "n1", "local", "100Mi"),
		},
		classes: map[string]*storagev1.StorageClass{
			"local": {ObjectMeta: metav1.ObjectMeta{Name: "local"}, Provisioner: noProvisioner, VolumeBindingMode: &wffc},
			"fast":  {ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "x.example/csi", VolumeBindingMode: &immediate},
			"cloud": {ObjectMeta: metav1.ObjectMeta{Name: "cloud"}, Provisioner: "x.example/csi", VolumeBindingMode: &wffc},
		},
	}
	nodes := []*corev1.Node{makeNode("n1", 1000, 1<<30), makeNode("n2", 1000, 1<<30)}
	tests := []struct {
		name  string
		claim string
		node  string
		want  *want
	}{
		{"bound local volume on its node", "bound", "n1", nil},
		{"bound local volume elsewhere", "bound", "n2", unresolvable("node(s) had volume node affinity conflict")},
		{"claim bound to a missing volume", "lost", "n1", unresolvable("node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)")},
		{"missing claim", "nope", "n1", unresolvable(`persistentvolumeclaim "nope" not found`)},
		{"unbound immediate claim", "now", "n1", unresolvable("pod has unbound immediate PersistentVolumeClaims")},
		{"delayed claim with a free local volume on the node", "later", "n2", nil},
		{"delayed claim without a volume on the node", "later", "n1", unresolvable("node(s) didn't find available persistent volumes to bind")},
		{"delayed claim provisioned dynamically", "dynamic", "n1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAlgorithm(nodes)
			a.volumes = vols
			checkStatus(t, filterOn(a, makePod("p", usesClaim(tt.claim)), tt.node), tt.want)
		})
	}
	// The chosen volume for the delayed claim on n2 is free-n2.
	s, _ := preFilterVolumes(makePod("p", usesClaim("later")), vols)
	m, ok := s.matches(nodes[1])
	if !ok || m["later"] == nil || m["later"].Name != "free-n2" {
		t.Fatalf("matches %v %v", m, ok)
	}
}

func boundTo(pv *corev1.PersistentVolume, claim string) *corev1.PersistentVolume {
	pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: claim}
	pv.Status.Phase = corev1.VolumeBound
	return pv
}
