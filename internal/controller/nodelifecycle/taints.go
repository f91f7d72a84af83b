package nodelifecycle

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// conditionTaints maps a node condition and status to the NoSchedule taint
// it calls for (upstream's TaintNodesByCondition).
var conditionTaints = map[corev1.NodeConditionType]map[corev1.ConditionStatus]string{
	corev1.NodeReady:              {corev1.ConditionFalse: corev1.TaintNodeNotReady, corev1.ConditionUnknown: corev1.TaintNodeUnreachable},
	corev1.NodeMemoryPressure:     {corev1.ConditionTrue: corev1.TaintNodeMemoryPressure},
	corev1.NodeDiskPressure:       {corev1.ConditionTrue: corev1.TaintNodeDiskPressure},
	corev1.NodeNetworkUnavailable: {corev1.ConditionTrue: corev1.TaintNodeNetworkUnavailable},
	corev1.NodePIDPressure:        {corev1.ConditionTrue: corev1.TaintNodePIDPressure},
}

// managed reports whether t is a taint this controller owns.
func managed(t corev1.Taint) bool {
	switch t.Effect {
	case corev1.TaintEffectNoExecute:
		return t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable
	case corev1.TaintEffectNoSchedule:
		if t.Key == corev1.TaintNodeUnschedulable {
			return true
		}
		for _, m := range conditionTaints {
			for _, k := range m {
				if k == t.Key {
					return true
				}
			}
		}
	}
	return false
}

// desiredTaints are the taints this controller wants on node: NoSchedule
// ones from its conditions and spec.unschedulable, and the NoExecute one
// for its Ready condition (none in full disruption mode).
func desiredTaints(node *corev1.Node, noExecute bool) []corev1.Taint {
	var out []corev1.Taint
	for _, c := range node.Status.Conditions {
		if key, ok := conditionTaints[c.Type][c.Status]; ok {
			out = append(out, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	if noExecute {
		switch readyStatus(node) {
		case corev1.ConditionFalse:
			out = append(out, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute})
		case corev1.ConditionUnknown:
			out = append(out, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute})
		}
	}
	return out
}

// reconcileTaints returns node's taints with the managed ones made equal to
// want (taints already there keep their timeAdded; new NoExecute ones get
// now), and whether they changed.
func reconcileTaints(node *corev1.Node, want []corev1.Taint, now metav1.Time) ([]corev1.Taint, bool) {
	has := func(list []corev1.Taint, t corev1.Taint) bool {
		return slices.ContainsFunc(list, func(x corev1.Taint) bool { return x.Key == t.Key && x.Effect == t.Effect })
	}
	var out []corev1.Taint
	changed := false
	for _, t := range node.Spec.Taints {
		if managed(t) && !has(want, t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	for _, t := range want {
		if has(node.Spec.Taints, t) {
			continue
		}
		if t.Effect == corev1.TaintEffectNoExecute {
			t.TimeAdded = &now
		}
		out = append(out, t)
		changed = true
	}
	return out, changed
}

// betaLabels are the deprecated labels upstream still keeps equal to the
// stable ones.
var betaLabels = [][2]string{
	{corev1.LabelOSStable, "beta.kubernetes.io/os"},
	{corev1.LabelArchStable, "beta.kubernetes.io/arch"},
}

// reconcileLabels sets the beta os/arch labels from the stable ones.
func reconcileLabels(node *corev1.Node) bool {
	changed := false
	for _, p := range betaLabels {
		v, ok := node.Labels[p[0]]
		if !ok || node.Labels[p[1]] == v {
			continue
		}
		node.Labels[p[1]] = v
		changed = true
	}
	return changed
}
