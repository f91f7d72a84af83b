package scheduler

import (
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Upstream's reasons for the node-level filters.
const (
	reasonUnschedulable    = "node(s) were unschedulable"
	reasonNodeName         = "node(s) didn't match the requested node name"
	reasonNodeAffinity     = "node(s) didn't match Pod's node affinity/selector"
	reasonAffinityConflict = "pod affinity terms conflict"
)

// taintUnschedulable is the taint a cordoned node is treated as having.
var taintUnschedulable = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// filterNodeUnschedulable is NodeUnschedulable: a cordoned node takes only
// pods that tolerate node.kubernetes.io/unschedulable:NoSchedule.
func filterNodeUnschedulable(cs *cycleState, ni *nodeInfo) *status {
	if !ni.node.Spec.Unschedulable {
		return nil
	}
	if tolerates(cs.pod.pod.Spec.Tolerations, &taintUnschedulable) {
		return nil
	}
	return newStatus(codeUnresolvable, pluginNodeUnschedulable, reasonUnschedulable)
}

// filterNodeName is NodeName: a pod naming a node fits only that node.
func filterNodeName(cs *cycleState, ni *nodeInfo) *status {
	if n := cs.pod.pod.Spec.NodeName; n != "" && n != ni.node.Name {
		return newStatus(codeUnresolvable, pluginNodeName, reasonNodeName)
	}
	return nil
}

// filterTaints is TaintToleration: every NoSchedule and NoExecute taint of
// the node must be tolerated; the first that is not is named.
func filterTaints(cs *cycleState, ni *nodeInfo) *status {
	taints := ni.node.Spec.Taints
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(cs.pod.pod.Spec.Tolerations, t) {
			return newStatus(codeUnresolvable, pluginTaintToleration,
				fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
		}
	}
	return nil
}

// untoleratedTaint reports whether the node has a NoSchedule/NoExecute
// taint the tolerations do not cover.
func untoleratedTaint(node *corev1.Node, tolerations []corev1.Toleration) bool {
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !tolerates(tolerations, t) {
			return true
		}
	}
	return false
}

func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logr.Discard(), taint, false) {
			return true
		}
	}
	return false
}

// nodeAffinityState is NodeAffinity's pre-filter result: the pod's node
// selector and required node affinity, and the node names its
// metadata.name field terms allow (nil: any node).
type nodeAffinityState struct {
	active    bool // the pod has a node selector or required node affinity
	required  nodeaffinity.RequiredNodeAffinity
	nodeNames map[string]struct{}
}

// preFilterNodeAffinity prepares NodeAffinity and returns a failure when
// the metadata.name terms allow no node at all.
func preFilterNodeAffinity(pod *corev1.Pod) (nodeAffinityState, *status) {
	st := nodeAffinityState{required: newRequiredAffinity(pod)}
	var req *corev1.NodeSelector
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		req = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	if req == nil && pod.Spec.NodeSelector == nil {
		return st, nil
	}
	st.active = true
	if req == nil || len(req.NodeSelectorTerms) == 0 {
		return st, nil
	}
	var names map[string]struct{}
	for _, t := range req.NodeSelectorTerms {
		termNames := namesOfTerm(t)
		if termNames == nil {
			return st, nil // terms are ORed: this one allows any node
		}
		if names == nil {
			names = map[string]struct{}{}
		}
		for n := range termNames {
			names[n] = struct{}{}
		}
	}
	if len(names) == 0 {
		return st, newStatus(codeUnresolvable, pluginNodeAffinity, reasonAffinityConflict)
	}
	st.nodeNames = names
	return st, nil
}

// namesOfTerm intersects the metadata.name In requirements of one term
// (nil when it has none).
func namesOfTerm(t corev1.NodeSelectorTerm) map[string]struct{} {
	var names map[string]struct{}
	for _, r := range t.MatchFields {
		if r.Key != metav1.ObjectNameField || r.Operator != corev1.NodeSelectorOpIn {
			continue
		}
		s := make(map[string]struct{}, len(r.Values))
		for _, v := range r.Values {
			if names == nil {
				s[v] = struct{}{}
			} else if _, ok := names[v]; ok {
				s[v] = struct{}{}
			}
		}
		names = s
	}
	return names
}

// filterNodeAffinity is NodeAffinity: the node must match the pod's
// nodeSelector and required node affinity.
func filterNodeAffinity(cs *cycleState, ni *nodeInfo) *status {
	if !cs.nodeAffinity.active {
		return nil
	}
	if ok, _ := cs.nodeAffinity.required.Match(ni.node); !ok {
		return newStatus(codeUnresolvable, pluginNodeAffinity, reasonNodeAffinity)
	}
	return nil
}

func newRequiredAffinity(pod *corev1.Pod) nodeaffinity.RequiredNodeAffinity {
	return nodeaffinity.GetRequiredNodeAffinity(pod)
}
