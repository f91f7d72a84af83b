package describe

import (
	corev1 "k8s.io/api/core/v1"
	"strings"
)

// describeVolumes writes the Volumes block; indent is " " in a pod template.
func describeVolumes(w *prefixWriter, vols []corev1.Volume, indent string) {
	level := L0
	if indent != "" {
		level = L1
	}
	if len(vols) == 0 {
		w.Write(level, "Volumes:\t<none>\n")
		return
	}
	w.Write(level, "Volumes:\n")
	for _, v := range vols {
		w.Write(L1, "%s%s:\n", indent, v.Name)
		describeVolumeSource(w, v.VolumeSource)
	}
}

func describeVolumeSource(w *prefixWriter, s corev1.VolumeSource) {
	switch {
	case s.HostPath != nil:
		w.Write(L2, "Type:\tHostPath (bare host directory volume)\n")
		w.Write(L2, "Path:\t%s\n", s.HostPath.Path)
		if s.HostPath.Type == nil {
			w.Write(L2, "HostPathType:\t<none>\n")
		} else {
			w.Write(L2, "HostPathType:\t%s\n", *s.HostPath.Type)
		}
	case s.EmptyDir != nil:
		w.Write(L2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n")
		w.Write(L2, "Medium:\t%s\n", s.EmptyDir.Medium)
		if s.EmptyDir.SizeLimit == nil || s.EmptyDir.SizeLimit.IsZero() {
			w.Write(L2, "SizeLimit:\t<unset>\n")
		} else {
			w.Write(L2, "SizeLimit:\t%s\n", s.EmptyDir.SizeLimit.String())
		}
	case s.Secret != nil:
		w.Write(L2, "Type:\tSecret (a volume populated by a Secret)\n")
		w.Write(L2, "SecretName:\t%s\n", s.Secret.SecretName)
		w.Write(L2, "Optional:\t%t\n", s.Secret.Optional != nil && *s.Secret.Optional)
	case s.ConfigMap != nil:
		w.Write(L2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n")
		w.Write(L2, "Name:\t%s\n", s.ConfigMap.Name)
		w.Write(L2, "Optional:\t%t\n", s.ConfigMap.Optional != nil && *s.ConfigMap.Optional)
	case s.Projected != nil:
		w.Write(L2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n")
		for _, src := range s.Projected.Sources {
			switch {
			case src.ServiceAccountToken != nil:
				exp := int64(0)
				if src.ServiceAccountToken.ExpirationSeconds != nil {
					exp = *src.ServiceAccountToken.ExpirationSeconds
				}
				w.Write(L2, "TokenExpirationSeconds:\t%d\n", exp)
			case src.ConfigMap != nil:
				w.Write(L2, "ConfigMapName:\t%s\n", src.ConfigMap.Name)
				w.Write(L2, "Optional:\t%t\n", src.ConfigMap.Optional != nil && *src.ConfigMap.Optional)
			case src.Secret != nil:
				w.Write(L2, "SecretName:\t%s\n", src.Secret.Name)
				w.Write(L2, "Optional:\t%t\n", src.Secret.Optional != nil && *src.Secret.Optional)
			case src.DownwardAPI != nil:
				w.Write(L2, "DownwardAPI:\ttrue\n")
			}
		}
	case s.PersistentVolumeClaim != nil:
		w.Write(L2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n")
		w.Write(L2, "ClaimName:\t%s\n", s.PersistentVolumeClaim.ClaimName)
		w.Write(L2, "ReadOnly:\t%t\n", s.PersistentVolumeClaim.ReadOnly)
	case s.DownwardAPI != nil:
		w.Write(L2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n")
		w.Write(L2, "Items:\n")
		for _, it := range s.DownwardAPI.Items {
			if it.FieldRef != nil {
				w.Write(L3, "%s -> %s\n", it.FieldRef.FieldPath, it.Path)
			}
			if it.ResourceFieldRef != nil {
				w.Write(L3, "%s -> %s\n", it.ResourceFieldRef.Resource, it.Path)
			}
		}
	case s.NFS != nil:
		w.Write(L2, "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n")
		w.Write(L2, "Server:\t%s\n", s.NFS.Server)
		w.Write(L2, "Path:\t%s\n", s.NFS.Path)
		w.Write(L2, "ReadOnly:\t%t\n", s.NFS.ReadOnly)
	case s.CSI != nil:
		w.Write(L2, "Type:\tCSI (a Container Storage Interface (CSI) volume source)\n")
		w.Write(L2, "Driver:\t%s\n", s.CSI.Driver)
		fst := ""
		if s.CSI.FSType != nil {
			fst = *s.CSI.FSType
		}
		w.Write(L2, "FSType:\t%s\n", fst)
		w.Write(L2, "ReadOnly:\t%t\n", s.CSI.ReadOnly != nil && *s.CSI.ReadOnly)
		printLabels(w, "VolumeAttributes", s.CSI.VolumeAttributes, L2)
	case s.Image != nil:
		w.Write(L2, "Type:\tImage (a container image or OCI artifact)\n")
		w.Write(L2, "Reference:\t%s\n", s.Image.Reference)
		w.Write(L2, "PullPolicy:\t%s\n", s.Image.PullPolicy)
	default:
		w.Write(L1, "<unknown>\n")
	}
}

// describePodTemplate writes `Pod Template:` and the template's spec.
func describePodTemplate(w *prefixWriter, t *corev1.PodTemplateSpec) {
	w.Write(L0, "Pod Template:\n")
	if t == nil {
		w.Write(L1, "<unset>")
		return
	}
	printLabels(w, "  Labels", t.Labels, L0)
	if len(t.Annotations) > 0 {
		printAnnotations(w, t.Annotations, L1)
	}
	if t.Spec.ServiceAccountName != "" {
		w.Write(L1, "Service Account:\t%s\n", t.Spec.ServiceAccountName)
	}
	if len(t.Spec.InitContainers) > 0 {
		describeContainers(w, "Init Containers", t.Spec.InitContainers, nil, nil, " ")
	}
	describeContainers(w, "Containers", t.Spec.Containers, nil, nil, " ")
	describeVolumes(w, t.Spec.Volumes, " ")
	describeTopology(w, L1, t.Spec.TopologySpreadConstraints)
	if t.Spec.PriorityClassName != "" {
		w.Write(L1, "Priority Class Name:\t%s\n", t.Spec.PriorityClassName)
	}
	printLabels(w, "  Node-Selectors", t.Spec.NodeSelector, L0)
	printMultiline(w, L1, "Tolerations", tolerationStrings(t.Spec.Tolerations))
}

// PodTemplateRaw is the pod template as `rollout history --revision`
// prints it: the describe layout with the raw tabs left in.
func PodTemplateRaw(t *corev1.PodTemplateSpec) string {
	var b strings.Builder
	describePodTemplate(&prefixWriter{w: &b}, t)
	return b.String()
}
