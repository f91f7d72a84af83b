package registry

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A node's pod subnets may be filled once (node IPAM), never changed or
// cleared — upstream's ValidateNodeUpdate.
func TestNodePodCIDRSetOnce(t *testing.T) {
	res := mustResource(t, "", "v1", "nodes")
	ctx := context.Background()
	empty := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: "1"}}
	set := empty.DeepCopy()
	set.Spec.PodCIDR, set.Spec.PodCIDRs = "10.42.2.0/24", []string{"10.42.2.0/24"}
	if errs := res.Strategy.ValidateUpdate(ctx, set, empty); len(errs) != 0 {
		t.Errorf("first assignment refused: %v", errs)
	}
	labelled := set.DeepCopy()
	labelled.Labels = map[string]string{"a": "b"}
	if errs := res.Strategy.ValidateUpdate(ctx, labelled, set); len(errs) != 0 {
		t.Errorf("update keeping the subnet refused: %v", errs)
	}
	const want = `spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`
	changed := set.DeepCopy()
	changed.Spec.PodCIDR, changed.Spec.PodCIDRs = "10.42.3.0/24", []string{"10.42.3.0/24"}
	if got := errStrings(res.Strategy.ValidateUpdate(ctx, changed, set)); got != want {
		t.Errorf("change: %q", got)
	}
	if got := errStrings(res.Strategy.ValidateUpdate(ctx, empty, set)); got != want {
		t.Errorf("clearing: %q", got)
	}
}
