package apiserver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A server-side apply of a partial manifest by a second manager merges into
// the live object: what other managers own (here kubectl's client-side
// apply) stays, as upstream.
func TestServerSideApplyKeepsOtherManagersFields(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	deps := clientset(t, ts.admin).AppsV1().Deployments("default")
	d := testDeployment("web", 2)
	d.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"apps/v1","kind":"Deployment"}`}
	if _, err := deps.Create(ctx, d, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"}); err != nil {
		t.Fatal(err)
	}
	applied := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
	  "spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}`
	got, err := deps.Patch(ctx, "web", types.ApplyPatchType, []byte(applied), metav1.PatchOptions{FieldManager: "other"})
	if err != nil {
		t.Fatal(err)
	}
	checkMerged := func(got *appsv1.Deployment) {
		t.Helper()
		names := []string{}
		for _, c := range got.Spec.Template.Spec.Containers {
			names = append(names, c.Name)
		}
		if len(names) != 2 || names[0] != "c" || names[1] != "side" {
			t.Errorf("containers = %v, want [c side]", names)
		}
		if got.Spec.Selector == nil || got.Spec.Selector.MatchLabels["app"] != "web" {
			t.Errorf("selector lost: %+v", got.Spec.Selector)
		}
		if *got.Spec.Replicas != 2 {
			t.Errorf("replicas = %d", *got.Spec.Replicas)
		}
		managers := map[string]metav1.ManagedFieldsOperationType{}
		for _, e := range got.ManagedFields {
			managers[e.Manager] = e.Operation
		}
		if managers["kubectl-client-side-apply"] != metav1.ManagedFieldsOperationUpdate || managers["other"] != metav1.ManagedFieldsOperationApply {
			t.Errorf("managedFields managers = %v", managers)
		}
	}
	checkMerged(got)
	stored, err := deps.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkMerged(stored)
}

// Server-side apply runs the same defaulting and validation as any other
// write: a created object is defaulted, an invalid result is refused (and
// nothing is stored). kubectl apply --server-side after a client-side apply
// first moves the client-side manager's fields to the applying manager, so
// a partial manifest then drops the selector: upstream answers 422.
func TestServerSideApplyDefaultsAndValidates(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	deps := clientset(t, ts.admin).AppsV1().Deployments("default")
	full := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
	  "spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
	  "spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`
	got, err := deps.Patch(ctx, "web", types.ApplyPatchType, []byte(full), metav1.PatchOptions{FieldManager: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Replicas == nil || *got.Spec.Replicas != 1 || got.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		got.Spec.Template.Spec.RestartPolicy != "Always" || got.Spec.Template.Spec.Containers[0].TerminationMessagePath == "" {
		t.Errorf("apply-created deployment not defaulted: %+v", got.Spec)
	}
	partial := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
	  "spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}`
	_, err = deps.Patch(ctx, "web", types.ApplyPatchType, []byte(partial), metav1.PatchOptions{FieldManager: "me"})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.selector: Required value") {
		t.Fatalf("apply dropping the selector: %v", err)
	}
	stored, err := deps.Get(ctx, "web", metav1.GetOptions{})
	if err != nil || stored.Spec.Selector == nil || len(stored.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("refused apply changed the object: %v %+v", err, stored.Spec)
	}
}

// NetworkPolicies without policyTypes get upstream's default whether
// created or applied: Ingress, plus Egress when egress rules exist.
func TestNetworkPolicyTypesDefaulted(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	nps := clientset(t, ts.admin).NetworkingV1().NetworkPolicies("default")
	for _, tc := range []struct{ name, body, want string }{
		{"ingress-only", `{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"ingress-only"},"spec":{"podSelector":{}}}`, "[Ingress]"},
		{"both", `{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"both"},"spec":{"podSelector":{},"egress":[{}]}}`, "[Ingress Egress]"},
	} {
		got, err := nps.Patch(ctx, tc.name, types.ApplyPatchType, []byte(tc.body), metav1.PatchOptions{FieldManager: "me"})
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(got.Spec.PolicyTypes); s != tc.want {
			t.Errorf("%s: policyTypes %s, want %s", tc.name, s, tc.want)
		}
	}
}
