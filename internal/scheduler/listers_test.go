package scheduler

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func TestPriorityResolution(t *testing.T) {
	idx := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{})
	never := corev1.PreemptNever
	_ = idx.Add(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, PreemptionPolicy: &never})
	_ = idx.Add(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "default-a"}, Value: 50, GlobalDefault: true})
	_ = idx.Add(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "default-b"}, Value: 20, GlobalDefault: true})
	p := &priorities{lister: schedulinglisters.NewPriorityClassLister(idx), dirty: true}
	class := func(name string) *corev1.Pod {
		return makePod("p", func(p *corev1.Pod) { p.Spec.PriorityClassName = name })
	}
	tests := []struct {
		pod  *corev1.Pod
		want int32
	}{
		{makePod("explicit", priority(7)), 7},
		{class("high"), 1000},
		{class("system-node-critical"), 2000001000},
		{class("system-cluster-critical"), 2000000000},
		{class("missing"), 0},
		{makePod("plain"), 20}, // the lowest global default
	}
	for _, tt := range tests {
		if got := p.priority(tt.pod); got != tt.want {
			t.Errorf("%s/%s: priority %d, want %d", tt.pod.Name, tt.pod.Spec.PriorityClassName, got, tt.want)
		}
	}
	if got := p.preemptionPolicy(class("high")); got != corev1.PreemptNever {
		t.Errorf("class preemption policy %s", got)
	}
	if got := p.preemptionPolicy(makePod("x", func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever) })); got != corev1.PreemptNever {
		t.Errorf("pod preemption policy %s", got)
	}
	// A new global default is picked up once invalidated.
	_ = idx.Add(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "default-c"}, Value: 5, GlobalDefault: true})
	p.invalidate()
	if got := p.priority(makePod("plain")); got != 5 {
		t.Errorf("after a new default: %d", got)
	}
}

func TestStatusPatch(t *testing.T) {
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "m1"}
	pod := makePod("p")
	now := epoch.Add(90 * time.Second)
	decode := func(b []byte) (c corev1.PodCondition, raw map[string]any) {
		var body struct {
			Status map[string]json.RawMessage `json:"status"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatal(err)
		}
		var cs []corev1.PodCondition
		_ = json.Unmarshal(body.Status["conditions"], &cs)
		raw = map[string]any{}
		for k := range body.Status {
			raw[k] = true
		}
		if len(cs) > 0 {
			c = cs[0]
		}
		return c, raw
	}
	c, _ := decode(statusPatch(pod, cond, "", false, now))
	if !c.LastTransitionTime.Time.Equal(now) || c.Message != "m1" {
		t.Fatalf("new condition %+v", c)
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "m1",
		LastTransitionTime: metav1.Time{Time: epoch}}}
	if statusPatch(pod, cond, "", false, now) != nil {
		t.Fatal("patched an unchanged condition")
	}
	cond.Message = "m2"
	c, _ = decode(statusPatch(pod, cond, "", false, now))
	if !c.LastTransitionTime.Time.Equal(epoch) || c.Message != "m2" {
		t.Fatalf("message change moved the transition time: %+v", c)
	}
	// Only the nomination changes.
	cond.Message = "m1"
	_, raw := decode(statusPatch(pod, cond, "n1", true, now))
	if raw["conditions"] != nil || raw["nominatedNodeName"] == nil {
		t.Fatalf("nomination-only patch: %v", raw)
	}
}
