package describe

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	gvrQuotas      = schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}
	gvrLimitRanges = schema.GroupVersionResource{Version: "v1", Resource: "limitranges"}
)

func describeNamespace(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	ns, err := into[corev1.Namespace](u)
	if err != nil {
		return "", err
	}
	quotas, _ := listTyped[corev1.ResourceQuota](ctx, d, gvrQuotas, ns.Name, metav1.ListOptions{})
	limits, _ := listTyped[corev1.LimitRange](ctx, d, gvrLimitRanges, ns.Name, metav1.ListOptions{})
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", ns.Name)
		printLabels(w, "Labels", ns.Labels, L0)
		printAnnotations(w, ns.Annotations, L0)
		w.Write(L0, "Status:\t%s\n", ns.Status.Phase)
		if len(ns.Status.Conditions) > 0 {
			w.Write(L0, "Conditions:\n  Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
			w.Write(L1, "----\t------\t------------------\t------\t-------\n")
			for _, c := range ns.Status.Conditions {
				w.Write(L1, "%v\t%v\t%s\t%v\t%v\n", c.Type, c.Status, timeString(c.LastTransitionTime), c.Reason, c.Message)
			}
		}
		describeQuotas(w, quotas)
		describeLimitRanges(w, limits)
		return nil
	})
}

func describeQuotas(w *prefixWriter, quotas []corev1.ResourceQuota) {
	if len(quotas) == 0 {
		w.Write(L0, "\nNo resource quota.\n")
		return
	}
	sort.Slice(quotas, func(i, j int) bool { return quotas[i].Name < quotas[j].Name })
	w.Write(L0, "\nResource Quotas\n")
	for _, q := range quotas {
		w.Write(L1, "Name:\t%s\n", q.Name)
		if len(q.Spec.Scopes) > 0 {
			var scopes []string
			for _, s := range q.Spec.Scopes {
				scopes = append(scopes, string(s))
			}
			w.Write(L1, "Scopes:\t%s\n", strings.Join(scopes, ", "))
		}
		w.Write(L1, "Resource\tUsed\tHard\n")
		w.Write(L1, "--------\t---\t---\n")
		for _, n := range resourceKeys(q.Status.Hard) {
			hard := q.Status.Hard[n]
			used := q.Status.Used[n]
			w.Write(L1, "%s\t%s\t%s\n", n, used.String(), hard.String())
		}
	}
}

func describeLimitRanges(w *prefixWriter, limits []corev1.LimitRange) {
	if len(limits) == 0 {
		w.Write(L0, "\nNo LimitRange resource.\n")
		return
	}
	w.Write(L0, "\nResource Limits\n")
	w.Write(L0, " Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n")
	w.Write(L0, " ----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n")
	get := func(l corev1.ResourceList, n corev1.ResourceName) string {
		if q, ok := l[n]; ok {
			return q.String()
		}
		return "-"
	}
	for _, lr := range limits {
		for _, item := range lr.Spec.Limits {
			names := map[corev1.ResourceName]bool{}
			for _, l := range []corev1.ResourceList{item.Min, item.Max, item.Default, item.DefaultRequest, item.MaxLimitRequestRatio} {
				for n := range l {
					names[n] = true
				}
			}
			var sorted []corev1.ResourceName
			for n := range names {
				sorted = append(sorted, n)
			}
			sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
			for _, n := range sorted {
				w.Write(L0, " %s\t%s\t%s\t%s\t%s\t%s\t%s\n", item.Type, n, get(item.Min, n), get(item.Max, n),
					get(item.DefaultRequest, n), get(item.Default, n), get(item.MaxLimitRequestRatio, n))
			}
		}
	}
}

func describeConfigMap(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	cm, err := into[corev1.ConfigMap](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", cm.Name)
		w.Write(L0, "Namespace:\t%s\n", cm.Namespace)
		printLabels(w, "Labels", cm.Labels, L0)
		printAnnotations(w, cm.Annotations, L0)
		w.Write(L0, "\nData\n====\n")
		for _, k := range sortedKeys(cm.Data) {
			w.Write(L0, "%s:\n----\n", k)
			w.Write(L0, "%s\n", cm.Data[k])
			w.Write(L0, "\n")
		}
		w.Write(L0, "\nBinaryData\n====\n")
		for _, k := range sortedKeys(cm.BinaryData) {
			w.Write(L0, "%s: %d bytes\n", k, len(cm.BinaryData[k]))
		}
		w.Write(L0, "\n")
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describeSecret(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	s, err := into[corev1.Secret](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", s.Name)
		w.Write(L0, "Namespace:\t%s\n", s.Namespace)
		printLabels(w, "Labels", s.Labels, L0)
		printAnnotations(w, s.Annotations, L0)
		w.Write(L0, "\nType:\t%s\n", s.Type)
		w.Write(L0, "\nData\n====\n")
		for _, k := range sortedKeys(s.Data) {
			if k == corev1.ServiceAccountTokenKey && s.Type == corev1.SecretTypeServiceAccountToken {
				w.Write(L0, "%s:\t%s\n", k, string(s.Data[k]))
				continue
			}
			w.Write(L0, "%s:\t%d bytes\n", k, len(s.Data[k]))
		}
		return nil
	})
}

func describeServiceAccount(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	sa, err := into[corev1.ServiceAccount](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", sa.Name)
		w.Write(L0, "Namespace:\t%s\n", sa.Namespace)
		printLabels(w, "Labels", sa.Labels, L0)
		printAnnotations(w, sa.Annotations, L0)
		var pulls []string
		for _, s := range sa.ImagePullSecrets {
			pulls = append(pulls, s.Name)
		}
		printMultiline(w, L0, "Image pull secrets", pulls)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	seen := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		seen[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		if seen[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func describePV(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	pv, err := into[corev1.PersistentVolume](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", pv.Name)
		printLabels(w, "Labels", pv.Labels, L0)
		printAnnotations(w, pv.Annotations, L0)
		w.Write(L0, "Finalizers:\t%v\n", pv.Finalizers)
		w.Write(L0, "StorageClass:\t%s\n", storageClassOf(pv.Annotations, &pv.Spec.StorageClassName))
		if pv.DeletionTimestamp != nil {
			w.Write(L0, "Status:\tTerminating (lasts %s)\n", since(*pv.DeletionTimestamp))
		} else {
			w.Write(L0, "Status:\t%v\n", pv.Status.Phase)
		}
		claim := ""
		if pv.Spec.ClaimRef != nil {
			claim = pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
		}
		w.Write(L0, "Claim:\t%s\n", claim)
		w.Write(L0, "Reclaim Policy:\t%v\n", pv.Spec.PersistentVolumeReclaimPolicy)
		w.Write(L0, "Access Modes:\t%s\n", accessModes(pv.Spec.AccessModes))
		if pv.Spec.VolumeMode != nil {
			w.Write(L0, "VolumeMode:\t%v\n", *pv.Spec.VolumeMode)
		}
		st := pv.Spec.Capacity[corev1.ResourceStorage]
		w.Write(L0, "Capacity:\t%s\n", st.String())
		if na := pv.Spec.NodeAffinity; na == nil || na.Required == nil {
			w.Write(L0, "Node Affinity:\t<none>\n")
		} else {
			w.Write(L0, "Node Affinity:\t\n  Required Terms:\t\n")
			for i, t := range na.Required.NodeSelectorTerms {
				var parts []string
				for _, e := range t.MatchExpressions {
					parts = append(parts, fmt.Sprintf("%s %s %v", e.Key, strings.ToLower(string(e.Operator)), e.Values))
				}
				w.Write(L2, "Term %d:\t%s\n", i, strings.Join(parts, "\n      \t"))
			}
		}
		w.Write(L0, "Message:\t%s\n", pv.Status.Message)
		w.Write(L0, "Source:\n")
		if pv.Spec.Local != nil {
			w.Write(L2, "Type:\tLocalVolume (a persistent volume backed by local storage on a node)\n")
			w.Write(L2, "Path:\t%v\n", pv.Spec.Local.Path)
		} else if pv.Spec.HostPath != nil {
			describeVolumeSource(w, corev1.VolumeSource{HostPath: pv.Spec.HostPath})
		} else if pv.Spec.NFS != nil {
			describeVolumeSource(w, corev1.VolumeSource{NFS: pv.Spec.NFS})
		}
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describePVC(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	pvc, err := into[corev1.PersistentVolumeClaim](u)
	if err != nil {
		return "", err
	}
	pods, _ := listTyped[corev1.Pod](ctx, d, gvrPods, pvc.Namespace, metav1.ListOptions{})
	var users []string
	for _, p := range pods {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
				users = append(users, p.Name)
				break
			}
		}
	}
	sort.Strings(users)
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", pvc.Name)
		w.Write(L0, "Namespace:\t%s\n", pvc.Namespace)
		w.Write(L0, "StorageClass:\t%s\n", storageClassOf(pvc.Annotations, pvc.Spec.StorageClassName))
		if pvc.DeletionTimestamp != nil {
			w.Write(L0, "Status:\tTerminating (lasts %s)\n", since(*pvc.DeletionTimestamp))
		} else {
			w.Write(L0, "Status:\t%v\n", pvc.Status.Phase)
		}
		w.Write(L0, "Volume:\t%s\n", pvc.Spec.VolumeName)
		printLabels(w, "Labels", pvc.Labels, L0)
		printAnnotations(w, pvc.Annotations, L0)
		w.Write(L0, "Finalizers:\t%v\n", pvc.Finalizers)
		capacity, modes := "", ""
		if pvc.Spec.VolumeName != "" {
			q := pvc.Status.Capacity[corev1.ResourceStorage]
			capacity, modes = q.String(), accessModes(pvc.Status.AccessModes)
		}
		w.Write(L0, "Capacity:\t%s\n", capacity)
		w.Write(L0, "Access Modes:\t%s\n", modes)
		if pvc.Spec.VolumeMode != nil {
			w.Write(L0, "VolumeMode:\t%v\n", *pvc.Spec.VolumeMode)
		}
		printMultiline(w, L0, "Used By", users)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describeEvent(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	return describeGeneric(ctx, d, u)
}
