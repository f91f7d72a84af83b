package agent

import (
	"context"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/version"
)

func TestNodeRegistration(t *testing.T) {
	set := startAPI(t)
	cfg := simConfig("n1", nil)
	cfg.ControlPlane = true
	cfg.Labels = map[string]string{"zone": "north"}
	taint, err := ParseTaint("dedicated=infra:NoSchedule")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Taints = []corev1.Taint{taint}
	cfg.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16")}
	startNode(t, set, cfg, false)
	n := waitNodeReady(t, set, "n1")

	for k, v := range map[string]string{
		"kubernetes.io/hostname": "n1", "kubernetes.io/os": goruntime.GOOS, "kubernetes.io/arch": goruntime.GOARCH,
		"beta.kubernetes.io/os": goruntime.GOOS, "beta.kubernetes.io/arch": goruntime.GOARCH,
		"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true", "zone": "north",
	} {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "dedicated" || n.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("taints: %+v", n.Spec.Taints)
	}
	if q := n.Status.Capacity[corev1.ResourceCPU]; q.String() != "16" {
		t.Errorf("cpu capacity %s, want the configured 16", q.String())
	}
	if q := n.Status.Allocatable[corev1.ResourcePods]; q.Value() != 110 {
		t.Errorf("allocatable pods %s", q.String())
	}
	if q := n.Status.Capacity[corev1.ResourceMemory]; q.String() != "32Gi" {
		t.Errorf("simulated memory %s", q.String())
	}
	want := map[corev1.NodeConditionType][3]string{
		corev1.NodeMemoryPressure: {"False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
		corev1.NodeDiskPressure:   {"False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		corev1.NodePIDPressure:    {"False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
		corev1.NodeReady:          {"True", "KubeletReady", "kubelet is posting ready status"},
	}
	var order []string
	for _, c := range n.Status.Conditions {
		order = append(order, string(c.Type))
		w, ok := want[c.Type]
		if !ok {
			continue
		}
		if string(c.Status) != w[0] || c.Reason != w[1] || c.Message != w[2] {
			t.Errorf("condition %s: %s %s %q", c.Type, c.Status, c.Reason, c.Message)
		}
		if c.LastHeartbeatTime.IsZero() || c.LastTransitionTime.IsZero() {
			t.Errorf("condition %s has no times", c.Type)
		}
	}
	if got := strings.Join(order, ","); got != "MemoryPressure,DiskPressure,PIDPressure,Ready" {
		t.Errorf("condition order %s", got)
	}
	if len(n.Status.Addresses) != 2 || n.Status.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}) ||
		n.Status.Addresses[1] != (corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"}) {
		t.Errorf("addresses %+v", n.Status.Addresses)
	}
	info := n.Status.NodeInfo
	if info.ContainerRuntimeVersion != "sim://0.1.0" || info.KubeletVersion != version.Kubernetes ||
		info.OperatingSystem != goruntime.GOOS || info.Architecture != goruntime.GOARCH ||
		info.MachineID == "" || info.BootID == "" || info.SystemUUID == "" || info.OSImage == "" {
		t.Errorf("nodeInfo %+v", info)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("kubelet port %d", n.Status.DaemonEndpoints.KubeletEndpoint.Port)
	}

	var lease *coordinationv1.Lease
	waitFor(t, "lease", func() (bool, error) {
		lease, err = set.Leases("kube-node-lease").Get(context.Background(), "n1", metav1.GetOptions{})
		return err == nil, err
	})
	if *lease.Spec.HolderIdentity != "n1" || *lease.Spec.LeaseDurationSeconds != 40 || lease.Spec.RenewTime == nil ||
		lease.Spec.AcquireTime != nil {
		t.Errorf("lease spec %+v", lease.Spec)
	}
	if len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].Kind != "Node" || lease.OwnerReferences[0].UID != n.UID {
		t.Errorf("lease owner %+v", lease.OwnerReferences)
	}
	waitFor(t, "node events", func() (bool, error) {
		evs := events(t, set, "default", "Node", "n1")
		return hasEvent(evs, "Starting", "Starting kubelet.") &&
			hasEvent(evs, "NodeHasSufficientMemory", "Node n1 status is now: NodeHasSufficientMemory") &&
			hasEvent(evs, "NodeHasNoDiskPressure", "") && hasEvent(evs, "NodeHasSufficientPID", "") &&
			hasEvent(evs, "NodeReady", "Node n1 status is now: NodeReady"), nil
	})
	for _, e := range events(t, set, "default", "Node", "n1") {
		if string(e.InvolvedObject.UID) != "n1" || e.Source.Component != "kubelet" || e.Source.Host != "n1" {
			t.Errorf("event %s: involved %+v source %+v", e.Reason, e.InvolvedObject, e.Source)
		}
	}
}

// An existing node keeps its taints and gets its labels back; the agent
// does not write a status that did not change until the report interval.
func TestNodeHeartbeatAndStatusCadence(t *testing.T) {
	set := startAPI(t)
	ctx := context.Background()
	cfg := simConfig("n2", nil)
	n := startNode(t, set, cfg, true)
	node := waitNodeReady(t, set, "n2")
	var lease0 *coordinationv1.Lease
	waitFor(t, "lease", func() (bool, error) {
		var err error
		lease0, err = set.Leases("kube-node-lease").Get(ctx, "n2", metav1.GetOptions{})
		return err == nil, err
	})
	waitFor(t, "heartbeat ticker armed", func() (bool, error) { return n.clock.HasWaiters(), nil })

	// 10 s: the lease is renewed; the node status is checked but unchanged, so not written.
	n.clock.Step(10 * time.Second)
	waitFor(t, "lease renewal", func() (bool, error) {
		l, err := set.Leases("kube-node-lease").Get(ctx, "n2", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.Time.After(lease0.Spec.RenewTime.Time), err
	})
	time.Sleep(200 * time.Millisecond) // give an unwanted status write time to happen
	cur, err := set.Nodes().Get(ctx, "n2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cur.ResourceVersion != node.ResourceVersion {
		t.Fatalf("node written although nothing changed: rv %s → %s", node.ResourceVersion, cur.ResourceVersion)
	}

	// 5 min later the status is reported even though nothing changed.
	for range 30 {
		n.clock.Step(10 * time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "periodic status report", func() (bool, error) {
		cur, err := set.Nodes().Get(ctx, "n2", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ready := findNodeCondition(&cur.Status, corev1.NodeReady)
		return cur.ResourceVersion != node.ResourceVersion && ready.LastHeartbeatTime.After(node.Status.Conditions[3].LastHeartbeatTime.Time), nil
	})

	// A condition someone else changed is put right at the next check.
	cur, _ = set.Nodes().Get(ctx, "n2", metav1.GetOptions{})
	for i := range cur.Status.Conditions {
		if cur.Status.Conditions[i].Type == corev1.NodeReady {
			cur.Status.Conditions[i].Status, cur.Status.Conditions[i].Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
		}
	}
	if _, err := set.Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the agent's informer see it
	n.clock.Step(10 * time.Second)
	waitNodeReady(t, set, "n2")

	// Restart with other labels and taints: labels follow, taints stay.
	n.stop()
	cfg.Labels = map[string]string{"tier": "gold"}
	cfg.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectNoExecute}}
	n.run(t, set, cfg)
	waitFor(t, "label after restart", func() (bool, error) {
		cur, err := set.Nodes().Get(ctx, "n2", metav1.GetOptions{})
		return err == nil && cur.Labels["tier"] == "gold" && len(cur.Spec.Taints) == 0, err
	})
}
