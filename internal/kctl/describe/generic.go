package describe

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// describeGeneric prints any object as kubectl's generic describer does:
// Name, Namespace, Labels, Annotations, then the rest as a tree with keys
// sorted, then Events.
func describeGeneric(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", u.GetName())
		w.Write(L0, "Namespace:\t%s\n", u.GetNamespace())
		printLabels(w, "Labels", u.GetLabels(), L0)
		printAnnotations(w, u.GetAnnotations(), L0)
		content := u.DeepCopy().Object
		if md, ok := content["metadata"].(map[string]any); ok {
			for _, k := range []string{"name", "namespace", "labels", "annotations", "managedFields"} {
				delete(md, k)
			}
		}
		printTree(w, content, L0)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func printTree(w *prefixWriter, m map[string]any, level int) {
	for _, k := range sortedKeys(m) {
		printValue(w, smartLabel(k), m[k], level)
	}
}

func printValue(w *prefixWriter, label string, v any, level int) {
	switch t := v.(type) {
	case map[string]any:
		w.Write(level, "%s:\n", label)
		printTree(w, t, level+1)
	case []any:
		w.Write(level, "%s:\n", label)
		for _, it := range t {
			if m, ok := it.(map[string]any); ok {
				printTree(w, m, level+1)
				continue
			}
			w.Write(level+1, "%v\n", it)
		}
	default:
		w.Write(level, "%s:\t%v\n", label, t)
	}
}

// smartLabel turns a camelCase key into title-cased words with acronyms
// kept ("apiVersion" → "API Version"); other keys print as they are.
func smartLabel(k string) string {
	for _, r := range k {
		if !unicode.IsLetter(r) && r != '-' {
			return k
		}
	}
	var words []string
	start := 0
	for i := 1; i < len(k); i++ {
		if unicode.IsUpper(rune(k[i])) && !unicode.IsUpper(rune(k[i-1])) {
			words = append(words, k[start:i])
			start = i
		}
	}
	words = append(words, k[start:])
	for i, wd := range words {
		switch strings.ToUpper(wd) {
		case "API", "URL", "UID", "GUID", "IP", "CIDR", "TLS":
			words[i] = strings.ToUpper(wd)
		default:
			words[i] = strings.ToUpper(wd[:1]) + wd[1:]
		}
	}
	return strings.Join(words, " ")
}

func describeStorageClass(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	sc, err := into[storagev1.StorageClass](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", sc.Name)
		def := "No"
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" || sc.Annotations["storageclass.beta.kubernetes.io/is-default-class"] == "true" {
			def = "Yes"
		}
		w.Write(L0, "IsDefaultClass:\t%s\n", def)
		w.Write(L0, "Annotations:\t%s\n", labels.FormatLabels(sc.Annotations))
		w.Write(L0, "Provisioner:\t%s\n", sc.Provisioner)
		w.Write(L0, "Parameters:\t%s\n", labels.FormatLabels(sc.Parameters))
		w.Write(L0, "AllowVolumeExpansion:\t%s\n", boolPtr(sc.AllowVolumeExpansion))
		if len(sc.MountOptions) == 0 {
			w.Write(L0, "MountOptions:\t<none>\n")
		} else {
			w.Write(L0, "MountOptions:\n")
			for _, o := range sc.MountOptions {
				w.Write(L1, "%s\n", o)
			}
		}
		if sc.ReclaimPolicy != nil {
			w.Write(L0, "ReclaimPolicy:\t%s\n", *sc.ReclaimPolicy)
		}
		if sc.VolumeBindingMode != nil {
			w.Write(L0, "VolumeBindingMode:\t%s\n", *sc.VolumeBindingMode)
		}
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describeNetworkPolicy(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	np, err := into[networkingv1.NetworkPolicy](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", np.Name)
		w.Write(L0, "Namespace:\t%s\n", np.Namespace)
		w.Write(L0, "Created on:\t%s\n", np.CreationTimestamp)
		printLabels(w, "Labels", np.Labels, L0)
		printAnnotations(w, np.Annotations, L0)
		w.Write(L0, "Spec:\n")
		sel := "<none> (Allowing the specific traffic to all pods in this namespace)"
		if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) > 0 {
			sel = metav1.FormatLabelSelector(&np.Spec.PodSelector)
		}
		w.Write(L1, "PodSelector:     %s\n", sel)
		types := map[string]bool{}
		for _, t := range np.Spec.PolicyTypes {
			types[string(t)] = true
		}
		if types["Ingress"] {
			w.Write(L1, "Allowing ingress traffic:\n")
			if len(np.Spec.Ingress) == 0 {
				w.Write(L2, "<none> (Selected pods are isolated for ingress connectivity)\n")
			}
			for i, r := range np.Spec.Ingress {
				if i > 0 {
					w.Write(L2, "----------\n")
				}
				writePeers(w, "To Port", "From", r.Ports, r.From)
			}
		} else {
			w.Write(L1, "Not affecting ingress traffic\n")
		}
		if types["Egress"] {
			w.Write(L1, "Allowing egress traffic:\n")
			if len(np.Spec.Egress) == 0 {
				w.Write(L2, "<none> (Selected pods are isolated for egress connectivity)\n")
			}
			for i, r := range np.Spec.Egress {
				if i > 0 {
					w.Write(L2, "----------\n")
				}
				writePeers(w, "To Port", "To", r.Ports, r.To)
			}
		} else {
			w.Write(L1, "Not affecting egress traffic\n")
		}
		var pts []string
		for _, t := range np.Spec.PolicyTypes {
			pts = append(pts, string(t))
		}
		w.Write(L1, "Policy Types: %v\n", joinOrNone(pts, ", "))
		return nil
	})
}

func writePeers(w *prefixWriter, portTitle, peerTitle string, ports []networkingv1.NetworkPolicyPort, peers []networkingv1.NetworkPolicyPeer) {
	if len(ports) == 0 {
		w.Write(L2, "%s: <any> (traffic allowed to all ports)\n", portTitle)
	}
	for _, p := range ports {
		proto := "TCP"
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		port := "<any>"
		if p.Port != nil {
			port = p.Port.String()
		}
		w.Write(L2, "%s: %s/%s\n", portTitle, port, proto)
	}
	if len(peers) == 0 {
		w.Write(L2, "%s: <any> (traffic not restricted by destination)\n", peerTitle)
		return
	}
	w.Write(L2, "%s:\n", peerTitle)
	for _, p := range peers {
		switch {
		case p.PodSelector != nil && p.NamespaceSelector != nil:
			w.Write(L3, "NamespaceSelector: %s\n", metav1.FormatLabelSelector(p.NamespaceSelector))
			w.Write(L3, "PodSelector: %s\n", metav1.FormatLabelSelector(p.PodSelector))
		case p.PodSelector != nil:
			w.Write(L3, "PodSelector: %s\n", metav1.FormatLabelSelector(p.PodSelector))
		case p.NamespaceSelector != nil:
			w.Write(L3, "NamespaceSelector: %s\n", metav1.FormatLabelSelector(p.NamespaceSelector))
		case p.IPBlock != nil:
			w.Write(L3, "IPBlock:\n")
			w.Write(L4, "CIDR: %s\n", p.IPBlock.CIDR)
			w.Write(L4, "Except: %s\n", strings.Join(p.IPBlock.Except, ", "))
		}
	}
}

func describeHPA(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	if u.GetAPIVersion() != "autoscaling/v2" {
		return describeGeneric(ctx, d, u)
	}
	hpa, err := into[autoscalingv2.HorizontalPodAutoscaler](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", hpa.Name)
		w.Write(L0, "Namespace:\t%s\n", hpa.Namespace)
		printLabels(w, "Labels", hpa.Labels, L0)
		printAnnotations(w, hpa.Annotations, L0)
		w.Write(L0, "CreationTimestamp:\t%s\n", timeString(hpa.CreationTimestamp))
		w.Write(L0, "Reference:\t%s/%s\n", hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name)
		w.Write(L0, "Metrics:\t( current / target )\n")
		for i, m := range hpa.Spec.Metrics {
			var cur *autoscalingv2.MetricStatus
			if i < len(hpa.Status.CurrentMetrics) {
				cur = &hpa.Status.CurrentMetrics[i]
			}
			writeHPAMetric(w, m, cur)
		}
		w.Write(L0, "Min replicas:\t%s\n", func() string {
			if hpa.Spec.MinReplicas == nil {
				return "<unset>"
			}
			return fmt.Sprint(*hpa.Spec.MinReplicas)
		}())
		w.Write(L0, "Max replicas:\t%d\n", hpa.Spec.MaxReplicas)
		w.Write(L0, "%s pods:\t%d current / %d desired\n", hpa.Spec.ScaleTargetRef.Kind, hpa.Status.CurrentReplicas, hpa.Status.DesiredReplicas)
		if len(hpa.Status.Conditions) > 0 {
			w.Write(L0, "Conditions:\n  Type\tStatus\tReason\tMessage\n")
			w.Write(L1, "----\t------\t------\t-------\n")
			for _, c := range hpa.Status.Conditions {
				w.Write(L1, "%v\t%v\t%v\t%v\n", c.Type, c.Status, c.Reason, c.Message)
			}
		}
		d.withEvents(ctx, u, w)
		return nil
	})
}

func writeHPAMetric(w *prefixWriter, m autoscalingv2.MetricSpec, cur *autoscalingv2.MetricStatus) {
	if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil {
		w.Write(L1, "%s metric:\t<unknown> / <unknown>\n", m.Type)
		return
	}
	r := m.Resource
	if r.Target.AverageUtilization != nil || r.Target.Type == autoscalingv2.UtilizationMetricType {
		current := "<unknown>"
		if cur != nil && cur.Resource != nil && cur.Resource.Current.AverageUtilization != nil {
			current = fmt.Sprintf("%d%% (%s)", *cur.Resource.Current.AverageUtilization, cur.Resource.Current.AverageValue.String())
		}
		target := "<auto>"
		if r.Target.AverageUtilization != nil {
			target = fmt.Sprintf("%d%%", *r.Target.AverageUtilization)
		}
		w.Write(L1, "resource %s on pods  (as a percentage of request):\t%s / %s\n", r.Name, current, target)
		return
	}
	current := "<unknown>"
	if cur != nil && cur.Resource != nil && cur.Resource.Current.AverageValue != nil {
		current = cur.Resource.Current.AverageValue.String()
	}
	target := "<unknown>"
	if r.Target.AverageValue != nil {
		target = r.Target.AverageValue.String()
	}
	w.Write(L1, "resource %s on pods:\t%s / %s\n", r.Name, current, target)
}
