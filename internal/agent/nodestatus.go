package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"kserver.dev/kserver/internal/version"
)

// nodeStatusMaxImages is the kubelet's nodeStatusMaxImages.
const nodeStatusMaxImages = 50

// nodeStatus computes the Node's status and writes it when it changed or
// when StatusReportInterval passed, and records the kubelet's node events
// when a condition changes.
type nodeStatus struct {
	a       *Agent
	machine machine

	mu         sync.Mutex
	lastReport time.Time // zero until the first write of this process
}

// nodeCondition is one of the four conditions the kubelet owns.
type nodeCondition struct {
	typ                 corev1.NodeConditionType
	okReason, okMessage string
	okEvent, badEvent   string
	badReason           string
	badMessage          string
}

var nodeConditions = []nodeCondition{
	{corev1.NodeMemoryPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available",
		"NodeHasSufficientMemory", "NodeHasInsufficientMemory", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"},
	{corev1.NodeDiskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure",
		"NodeHasNoDiskPressure", "NodeHasDiskPressure", "KubeletHasDiskPressure", "kubelet has disk pressure"},
	{corev1.NodePIDPressure, "KubeletHasSufficientPID", "kubelet has sufficient PID available",
		"NodeHasSufficientPID", "NodeHasInsufficientPID", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"},
	{corev1.NodeReady, "KubeletReady", "kubelet is posting ready status",
		"NodeReady", "NodeNotReady", "KubeletNotReady", ""},
}

// problems says, per condition type, what is wrong (empty: nothing). For
// pressure conditions "wrong" means under pressure; for Ready it is the
// reason the node is not ready.
func (n *nodeStatus) problems(ctx context.Context) map[corev1.NodeConditionType]string {
	p := map[corev1.NodeConditionType]string{}
	if !n.a.cfg.Simulated {
		if avail := meminfo("MemAvailable"); avail > 0 && avail < evictionMemory {
			p[corev1.NodeMemoryPressure] = "pressure"
		}
		if total, avail := diskSpace(n.a.cfg.DataDir); total > 0 && avail*1000 < total*evictionNodefsPermil {
			p[corev1.NodeDiskPressure] = "pressure"
		}
	}
	if _, err := n.a.parts.Runtime.Info(ctx); err != nil {
		p[corev1.NodeReady] = "container runtime is down: " + err.Error()
	} else if r, ok := n.a.parts.Network.(interface{ Ready() error }); ok {
		if err := r.Ready(); err != nil {
			p[corev1.NodeReady] = "container runtime network not ready: " + err.Error()
		}
	}
	return p
}

// desiredStatus is the status to report; cur is the stored one (nil on
// registration), whose transition times and foreign conditions are kept.
func (n *nodeStatus) desiredStatus(cur *corev1.NodeStatus) corev1.NodeStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := metav1.NewTime(n.a.clock.Now().Truncate(time.Second))
	probs := n.problems(ctx)
	var conds []corev1.NodeCondition
	if cur != nil { // conditions others own (NetworkUnavailable, …) first, as they were
		for _, c := range cur.Conditions {
			if !ownedNodeCondition(c.Type) {
				conds = append(conds, c)
			}
		}
	}
	for _, nc := range nodeConditions {
		c := corev1.NodeCondition{Type: nc.typ, Status: corev1.ConditionFalse, Reason: nc.okReason, Message: nc.okMessage,
			LastHeartbeatTime: now, LastTransitionTime: now}
		if nc.typ == corev1.NodeReady {
			c.Status = corev1.ConditionTrue
		}
		if msg := probs[nc.typ]; msg != "" {
			c.Reason, c.Message = nc.badReason, nc.badMessage
			if nc.typ == corev1.NodeReady {
				c.Status, c.Message = corev1.ConditionFalse, msg
			} else {
				c.Status = corev1.ConditionTrue
			}
		}
		if old := findNodeCondition(cur, nc.typ); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		conds = append(conds, c)
	}
	st := corev1.NodeStatus{
		Capacity:        n.machine.capacity.DeepCopy(),
		Allocatable:     n.machine.allocatable.DeepCopy(),
		Conditions:      conds,
		Addresses:       n.addresses(),
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: n.a.cfg.KubeletPort}},
		NodeInfo:        n.machine.info,
		Images:          n.a.parts.Images.NodeImages(nodeStatusMaxImages),
	}
	st.NodeInfo.ContainerRuntimeVersion = n.a.runtimeInfo.Name + "://" + n.a.runtimeInfo.Version
	st.NodeInfo.KubeletVersion = version.Kubernetes
	if cur != nil { // fields others own
		st.VolumesInUse, st.VolumesAttached, st.Config = cur.VolumesInUse, cur.VolumesAttached, cur.Config
	}
	return st
}

// addresses are the node's addresses in the order k3s writes them:
// InternalIP (--node-ip), ExternalIP (--node-external-ip, each), Hostname.
// ServiceLB prefers ExternalIPs for status.loadBalancer.ingress.
func (n *nodeStatus) addresses() []corev1.NodeAddress {
	out := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.a.cfg.NodeIP.String()}}
	for _, ip := range n.a.cfg.NodeExternalIPs {
		out = append(out, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: ip.String()})
	}
	return append(out, corev1.NodeAddress{Type: corev1.NodeHostName, Address: n.a.cfg.Hostname})
}

func ownedNodeCondition(t corev1.NodeConditionType) bool {
	for _, nc := range nodeConditions {
		if nc.typ == t {
			return true
		}
	}
	return false
}

func findNodeCondition(st *corev1.NodeStatus, t corev1.NodeConditionType) *corev1.NodeCondition {
	if st == nil {
		return nil
	}
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// written records a status the API confirmed, and the events of the
// conditions that changed from prev, the status before the write (nil for
// a new node).
func (n *nodeStatus) written(prev *corev1.NodeStatus, node *corev1.Node) {
	n.mu.Lock()
	n.lastReport = n.a.clock.Now()
	n.mu.Unlock()
	for _, nc := range nodeConditions {
		c := findNodeCondition(&node.Status, nc.typ)
		if c == nil {
			continue
		}
		if old := findNodeCondition(prev, nc.typ); old != nil && old.Status == c.Status {
			continue
		}
		ok := c.Status == corev1.ConditionFalse
		if nc.typ == corev1.NodeReady {
			ok = c.Status == corev1.ConditionTrue
		}
		reason := nc.okEvent
		if !ok {
			reason = nc.badEvent
		}
		n.a.rec.Eventf(n.a.nodeRef(), corev1.EventTypeNormal, reason, "Node %s status is now: %s", n.a.cfg.NodeName, reason)
	}
}

// sync computes the status and writes it if it changed (heartbeat times
// aside) or the report interval passed. cur is the stored node.
func (n *nodeStatus) sync(ctx context.Context, cur *corev1.Node) error {
	want := n.desiredStatus(&cur.Status)
	n.mu.Lock()
	due := n.a.clock.Since(n.lastReport) >= n.a.cfg.StatusReportInterval
	n.mu.Unlock()
	if !due && equalIgnoringHeartbeat(&cur.Status, &want) {
		return nil
	}
	oldJSON, err := json.Marshal(corev1.Node{Status: cur.Status})
	if err != nil {
		return err
	}
	newJSON, err := json.Marshal(corev1.Node{Status: want})
	if err != nil {
		return err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.Node{})
	if err != nil {
		return fmt.Errorf("node status patch: %w", err)
	}
	got, err := n.a.set.Nodes().Patch(ctx, n.a.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("update node %s status: %w", n.a.cfg.NodeName, err)
	}
	n.written(&cur.Status, got)
	return nil
}

// equalIgnoringHeartbeat compares two statuses without the conditions'
// heartbeat times, as the kubelet's nodeStatusHasChanged.
func equalIgnoringHeartbeat(a, b *corev1.NodeStatus) bool {
	strip := func(s *corev1.NodeStatus) *corev1.NodeStatus {
		c := s.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return c
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

// podCIDR is the node's spec.podCIDR, or the fallback range.
func (a *Agent) podCIDR() netip.Prefix {
	if node, ok := a.getNode(); ok {
		if p, err := netip.ParsePrefix(node.Spec.PodCIDR); err == nil {
			return p.Masked()
		}
	}
	return a.cfg.FallbackPodCIDR.Masked()
}
