package apiserver

import (
	"context"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// A PUT without metadata.resourceVersion updates whatever is stored for
// most resources (upstream's AllowUnconditionalUpdate); Leases, among a
// few others, insist on one.
func TestUnconditionalUpdate(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	cms := cs.CoreV1().ConfigMaps("default")
	created, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"a": "2"}}, metav1.UpdateOptions{})
	if err != nil || got.Data["a"] != "2" || got.UID != created.UID || got.ResourceVersion == created.ResourceVersion {
		t.Fatalf("unconditional configmap update: %v %+v", err, got)
	}

	leases := cs.CoordinationV1().Leases("default")
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("a")}}
	// Leases may be created by PUT (AllowCreateOnUpdate) ...
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("create on update: %v", err)
	}
	// ... but an update needs a resourceVersion.
	lease.Spec.HolderIdentity = ptr.To("b")
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	want := `leases.coordination.k8s.io "l" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update`
	if !apierrors.IsInvalid(err) || err.Error() != want {
		t.Fatalf("unconditional lease update: %v, want %s", err, want)
	}
	cur, err := leases.Get(ctx, "l", metav1.GetOptions{})
	if err != nil || *cur.Spec.HolderIdentity != "a" {
		t.Fatalf("refused update changed the lease: %v %+v", err, cur)
	}
	cur.Spec.HolderIdentity = ptr.To("b")
	if _, err := leases.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("conditional lease update: %v", err)
	}
	// A patch is always conditional on the object it was applied to.
	if _, err := leases.Patch(ctx, "l", "application/merge-patch+json", []byte(`{"spec":{"holderIdentity":"c"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("lease patch: %v", err)
	}
}
