package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// want is an expected filter outcome: nil for success.
type want struct {
	code    code
	reasons []string
}

func checkStatus(t *testing.T, got *status, w *want) {
	t.Helper()
	if w == nil {
		if !got.ok() {
			t.Fatalf("want success, got %v %q", got.code, got.reasons)
		}
		return
	}
	if got.ok() {
		t.Fatalf("want %v %q, got success", w.code, w.reasons)
	}
	if got.code != w.code || !reflect.DeepEqual(got.reasons, w.reasons) {
		t.Fatalf("want %v %q, got %v %q", w.code, w.reasons, got.code, got.reasons)
	}
}

func unresolvable(r ...string) *want { return &want{code: codeUnresolvable, reasons: r} }
func unfit(r ...string) *want        { return &want{code: codeUnschedulable, reasons: r} }

func TestNodeFilters(t *testing.T) {
	tests := []struct {
		name string
		node *corev1.Node
		pod  *corev1.Pod
		want *want
	}{
		{"schedulable node", makeNode("n", 1000, 1<<30), makePod("p"), nil},
		{"cordoned node", makeNode("n", 1000, 1<<30, cordoned), makePod("p"), unresolvable("node(s) were unschedulable")},
		{"cordoned node, pod tolerates unschedulable", makeNode("n", 1000, 1<<30, cordoned),
			makePod("p", toleration(corev1.TaintNodeUnschedulable, "", corev1.TaintEffectNoSchedule)), nil},
		{"pod names another node", makeNode("n", 1000, 1<<30), makePod("p", onNode("other")),
			unresolvable("node(s) didn't match the requested node name")},
		{"pod names this node", makeNode("n", 1000, 1<<30), makePod("p", onNode("n")), nil},
		{"untolerated NoSchedule taint", makeNode("n", 1000, 1<<30, withTaint("node-role.kubernetes.io/control-plane", "", corev1.TaintEffectNoSchedule)),
			makePod("p"), unresolvable("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")},
		{"untolerated NoExecute taint with value", makeNode("n", 1000, 1<<30, withTaint("dedicated", "gpu", corev1.TaintEffectNoExecute)),
			makePod("p"), unresolvable("node(s) had untolerated taint {dedicated: gpu}")},
		{"tolerated by Equal", makeNode("n", 1000, 1<<30, withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			makePod("p", toleration("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil},
		{"toleration with wrong value", makeNode("n", 1000, 1<<30, withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			makePod("p", toleration("dedicated", "cpu", corev1.TaintEffectNoSchedule)), unresolvable("node(s) had untolerated taint {dedicated: gpu}")},
		{"toleration for all effects with Exists", makeNode("n", 1000, 1<<30, withTaint("dedicated", "gpu", corev1.TaintEffectNoExecute)),
			makePod("p", toleration("dedicated", "", "")), nil},
		{"PreferNoSchedule does not filter", makeNode("n", 1000, 1<<30, withTaint("soft", "x", corev1.TaintEffectPreferNoSchedule)),
			makePod("p"), nil},
		{"nodeSelector matches", makeNode("n", 1000, 1<<30, withLabels("disk", "ssd")), makePod("p", nodeSelector("disk", "ssd")), nil},
		{"nodeSelector does not match", makeNode("n", 1000, 1<<30, withLabels("disk", "hdd")), makePod("p", nodeSelector("disk", "ssd")),
			unresolvable("node(s) didn't match Pod's node affinity/selector")},
		{"required node affinity NotIn", makeNode("n", 1000, 1<<30, withLabels("zone", "a")),
			makePod("p", affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"a"}}}}}}}})),
			unresolvable("node(s) didn't match Pod's node affinity/selector")},
		{"required node affinity ORs its terms", makeNode("n", 1000, 1<<30, withLabels("zone", "b")),
			makePod("p", affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{
					{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}},
					{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}},
				}}}})), nil},
		{"node affinity and nodeSelector must both match", makeNode("n", 1000, 1<<30, withLabels("zone", "a")),
			makePod("p", nodeSelector("disk", "ssd"), affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}})),
			unresolvable("node(s) didn't match Pod's node affinity/selector")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAlgorithm([]*corev1.Node{tt.node})
			checkStatus(t, filterOn(a, tt.pod, tt.node.Name), tt.want)
		})
	}
}

func nameAffinity(terms ...[]string) podOpt {
	var ts []corev1.NodeSelectorTerm
	for _, names := range terms {
		ts = append(ts, corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: names}}})
	}
	return affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: ts}}})
}

func TestNodeAffinityPreFilterNames(t *testing.T) {
	st, s := preFilterNodeAffinity(makePod("p", nameAffinity([]string{"a", "b"}, []string{"c"})))
	if s != nil || len(st.nodeNames) != 3 {
		t.Fatalf("names %v, status %v", st.nodeNames, s)
	}
	// Two requirements in one term intersect; nothing left is a conflict.
	p := makePod("p", affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}},
			{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}},
		}}}}}}))
	_, s = preFilterNodeAffinity(p)
	checkStatus(t, s, unresolvable("pod affinity terms conflict"))
	// A term without name fields allows every node.
	st, _ = preFilterNodeAffinity(makePod("p", nodeSelector("x", "y")))
	if st.nodeNames != nil || !st.active {
		t.Fatalf("nodeSelector only: %+v", st)
	}
}

func TestPortsFilter(t *testing.T) {
	tests := []struct {
		name     string
		existing *corev1.Pod
		pod      *corev1.Pod
		want     *want
	}{
		{"no ports", makePod("e", onNode("n")), makePod("p"), nil},
		{"same port and protocol", makePod("e", onNode("n"), hostPortOpt(8080, "", "")), makePod("p", hostPortOpt(8080, "", "")),
			unfit("node(s) didn't have free ports for the requested pod ports")},
		{"other protocol", makePod("e", onNode("n"), hostPortOpt(53, "", corev1.ProtocolUDP)), makePod("p", hostPortOpt(53, "", corev1.ProtocolTCP)), nil},
		{"specific address vs all addresses", makePod("e", onNode("n"), hostPortOpt(80, "10.0.0.1", "")), makePod("p", hostPortOpt(80, "", "")),
			unfit("node(s) didn't have free ports for the requested pod ports")},
		{"two specific addresses", makePod("e", onNode("n"), hostPortOpt(80, "10.0.0.1", "")), makePod("p", hostPortOpt(80, "10.0.0.2", "")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAlgorithm([]*corev1.Node{makeNode("n", 4000, 8<<30)}, tt.existing)
			checkStatus(t, filterOn(a, tt.pod, "n"), tt.want)
		})
	}
}

func TestResourcesFitFilter(t *testing.T) {
	sidecar := func(cpu string) podOpt {
		return func(p *corev1.Pod) {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "side", Image: "x",
				RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Resources:     corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ(cpu)}}})
		}
	}
	initC := func(cpu string) podOpt {
		return func(p *corev1.Pod) {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "init", Image: "x",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ(cpu)}}})
		}
	}
	overhead := func(cpu string) podOpt {
		return func(p *corev1.Pod) { p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: mustQ(cpu)} }
	}
	// Node: 1 CPU, 1 GiB, with 600m and 512Mi already taken.
	node := makeNode("n", 1000, 1<<30, withAllocatable("example.com/gpu", "2"), withAllocatable(corev1.ResourcePods, "3"))
	used := makePod("used", onNode("n"), requests("cpu", "600m", "memory", "512Mi"))
	tests := []struct {
		name string
		pod  *corev1.Pod
		want *want
	}{
		{"fits", makePod("p", requests("cpu", "400m", "memory", "512Mi")), nil},
		{"best effort fits", makePod("p"), nil},
		{"insufficient cpu", makePod("p", requests("cpu", "500m")), unfit("Insufficient cpu")},
		{"insufficient cpu and memory", makePod("p", requests("cpu", "500m", "memory", "600Mi")), unfit("Insufficient cpu", "Insufficient memory")},
		{"more cpu than the node has", makePod("p", requests("cpu", "2")), unresolvable("Insufficient cpu")},
		{"extended resource fits", makePod("p", requests("example.com/gpu", "2")), nil},
		{"extended resource short", makePod("p", requests("example.com/gpu", "3")), unresolvable("Insufficient example.com/gpu")},
		{"extended resource the node lacks", makePod("p", requests("example.com/fpga", "1")), unresolvable("Insufficient example.com/fpga")},
		{"init container larger than the containers", makePod("p", requests("cpu", "100m"), initC("500m")), unfit("Insufficient cpu")},
		{"init container smaller than the containers", makePod("p", requests("cpu", "300m"), initC("200m")), nil},
		{"sidecar adds to the containers", makePod("p", requests("cpu", "300m"), sidecar("200m")), unfit("Insufficient cpu")},
		{"overhead counts", makePod("p", requests("cpu", "350m"), overhead("100m")), unfit("Insufficient cpu")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAlgorithm([]*corev1.Node{node}, used)
			checkStatus(t, filterOn(a, tt.pod, "n"), tt.want)
		})
	}
	t.Run("too many pods", func(t *testing.T) {
		a := testAlgorithm([]*corev1.Node{node}, used, makePod("u2", onNode("n")), makePod("u3", onNode("n")))
		checkStatus(t, filterOn(a, makePod("p", requests("cpu", "500m")), "n"), unfit("Too many pods", "Insufficient cpu"))
	})
}
