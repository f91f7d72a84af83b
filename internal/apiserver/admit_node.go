package apiserver

import (
	corev1 "k8s.io/api/core/v1"
)

// taintNewNode is the TaintNodesByCondition admission plugin: a new Node
// starts with node.kubernetes.io/not-ready:NoSchedule, so that nothing is
// scheduled onto it before the node lifecycle controller has seen it
// Ready (that controller then removes the taint). Without the controllers
// (--disable controllers) nothing would remove it, so it is not added.
func (s *Server) taintNewNode(node *corev1.Node) {
	if !s.lifecycleControllers.Load() {
		return
	}
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady && t.Effect == corev1.TaintEffectNoSchedule {
			return
		}
	}
	node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
}
