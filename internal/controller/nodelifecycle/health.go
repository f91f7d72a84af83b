package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// health is what the controller last saw of a node's signs of life, with
// the local time it saw the latest one.
type health struct {
	probe     time.Time   // local time of the last sign of life
	heartbeat metav1.Time // Ready's lastHeartbeatTime as last seen
	hadReady  bool        // the node had a Ready condition when last seen
	lease     metav1.MicroTime
}

// observe updates what is known of node's health and returns the grace
// period it is entitled to and when that runs out.
func (c *Controller) observe(node *corev1.Node) (deadline time.Time, grace time.Duration) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.health[node.Name]
	ready := condition(node, corev1.NodeReady)
	grace = c.cfg.MonitorGracePeriod
	if ready == nil {
		grace = c.cfg.StartupGracePeriod
	}
	switch {
	case h == nil && ready == nil:
		// Never reported: count from its creation.
		h = &health{probe: node.CreationTimestamp.Time}
	case h == nil:
		// First seen (or the controller just started): give it a full
		// grace period from now.
		h = &health{probe: now, hadReady: true, heartbeat: ready.LastHeartbeatTime}
	case ready != nil && (!h.hadReady || !ready.LastHeartbeatTime.Equal(&h.heartbeat)):
		h.probe, h.hadReady, h.heartbeat = now, true, ready.LastHeartbeatTime
	}
	if l, err := c.leaseOf(node.Name); err == nil && l.Spec.RenewTime != nil && h.lease.Before(l.Spec.RenewTime) {
		h.lease = *l.Spec.RenewTime
		h.probe = now
	}
	c.health[node.Name] = h
	return h.probe.Add(grace), grace
}

// resetProbes gives every node a fresh grace period (leaving full
// disruption mode, as upstream).
func (c *Controller) resetProbes() {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.health {
		h.probe = now
	}
}

// markUnknown sets the node's kubelet-owned conditions to Unknown as
// upstream does when it stopped hearing from the kubelet; it reports
// whether anything changed.
func markUnknown(node *corev1.Node, now metav1.Time) bool {
	changed := false
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		cur := condition(node, t)
		if cur == nil {
			node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated",
				Message: "Kubelet never posted node status.", LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: now,
			})
			changed = true
			continue
		}
		if cur.Status != corev1.ConditionUnknown {
			cur.Status, cur.Reason, cur.Message = corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."
			cur.LastTransitionTime = now
			changed = true
		}
	}
	return changed
}

// condition returns the node's condition of type t (nil if absent).
func condition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	if c := condition(node, corev1.NodeReady); c != nil {
		return c.Status
	}
	return corev1.ConditionUnknown
}
