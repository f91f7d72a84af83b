package deployment

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func rolling(replicas int32, surge, unavail intstr.IntOrString) *appsv1.Deployment {
	return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Strategy: appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail}}}}
}

func TestFenceposts(t *testing.T) {
	for _, tc := range []struct {
		replicas          int32
		surge, unavail    intstr.IntOrString
		wantSurge, wantUn int32
	}{
		{10, intstr.FromString("25%"), intstr.FromString("25%"), 3, 2}, // surge rounds up, unavailable down
		{3, intstr.FromInt32(1), intstr.FromInt32(0), 1, 0},
		{1, intstr.FromString("25%"), intstr.FromString("25%"), 1, 0},
		{4, intstr.FromInt32(0), intstr.FromInt32(0), 0, 1}, // both zero: one may be unavailable
		{2, intstr.FromInt32(0), intstr.FromInt32(5), 0, 2}, // at most the replicas
	} {
		d := rolling(tc.replicas, tc.surge, tc.unavail)
		if s, u := maxSurge(d), maxUnavailable(d); s != tc.wantSurge || u != tc.wantUn {
			t.Errorf("%d replicas %v/%v: surge %d unavailable %d, want %d %d", tc.replicas, tc.surge.String(), tc.unavail.String(), s, u, tc.wantSurge, tc.wantUn)
		}
	}
}

func TestAppendHistoryBounded(t *testing.T) {
	if appendHistory("", "1") != "1" || appendHistory("1,2", "4") != "1,2,4" {
		t.Fatal("append")
	}
	long := strings.Repeat("12345,", 400) + "1"
	got := appendHistory(long, "99")
	if len(got) > maxRevisionHistoryChars || !strings.HasSuffix(got, ",99") {
		t.Fatalf("bounded history: %d chars, ends %q", len(got), got[len(got)-5:])
	}
}

func TestTemplateHash(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	h := templateHash(tmpl, nil)
	if h != templateHash(tmpl.DeepCopy(), nil) || h == templateHash(tmpl, ptr.To[int32](1)) {
		t.Fatal("hash must be stable and depend on the collision count")
	}
	other := tmpl.DeepCopy()
	other.Spec.Containers[0].Image = "nginx:2"
	if h == templateHash(other, nil) {
		t.Fatal("hash must depend on the template")
	}
	withHash := tmpl.DeepCopy()
	withHash.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = h
	if !equalIgnoreHash(tmpl, withHash) || equalIgnoreHash(tmpl, other) {
		t.Fatal("equalIgnoreHash")
	}
}

func TestNewRSReplicasAndProportion(t *testing.T) {
	d := rolling(10, intstr.FromInt32(3), intstr.FromInt32(0))
	old := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](10)}}
	nrs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0)}}
	if n := newRSReplicas(d, []*appsv1.ReplicaSet{old, nrs}, nrs); n != 3 {
		t.Fatalf("new replica set may surge to 3, got %d", n)
	}
	// Scaling 10 → 20 mid-rollout: a replica set sized 6 under max 13 gets 6*23/13 ≈ 11, i.e. +5.
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{MaxReplicasAnnotation: "13"}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](6)}}
	d20 := rolling(20, intstr.FromInt32(3), intstr.FromInt32(0))
	if p := proportion(d20, rs, 10, 0); p != 5 {
		t.Fatalf("proportion %d, want 5", p)
	}
	if p := proportion(d20, rs, 3, 0); p != 3 {
		t.Fatalf("proportion is capped by what is left to add: %d", p)
	}
}
