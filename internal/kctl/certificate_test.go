package kctl

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func csrObject(name string, conditions ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
		"metadata": map[string]any{"name": name}, "spec": map[string]any{"signerName": "kubernetes.io/kube-apiserver-client"}}}
	var conds []any
	for _, c := range conditions {
		conds = append(conds, map[string]any{"type": c, "status": "True"})
	}
	if conds != nil {
		unstructured.SetNestedSlice(u.Object, conds, "status", "conditions")
	}
	return u
}

func conditionTypes(t *testing.T, c *dynamicfake.FakeDynamicClient, name string) string {
	u, err := c.Resource(gvrCSR).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var types []string
	for _, c := range conds {
		m := c.(map[string]any)
		types = append(types, m["type"].(string)+"/"+m["reason"].(string))
	}
	return strings.Join(types, ",")
}

func TestCertificateDecisions(t *testing.T) {
	c := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvrCSR: "CertificateSigningRequestList"},
		csrObject("new"), csrObject("approved", "Approved"), csrObject("denied", "Denied"))
	ctx := context.Background()
	rc := c.Resource(gvrCSR)
	if _, err := decideCSR(ctx, rc, csrApprove, "new", false); err != nil {
		t.Fatal(err)
	}
	if got := conditionTypes(t, c, "new"); got != "Approved/KubectlApprove" {
		t.Errorf("approved CSR conditions %q", got)
	}
	// The write goes through the approval subresource.
	var sub []string
	for _, a := range c.Actions() {
		if a.GetVerb() == "update" {
			sub = append(sub, a.GetSubresource())
		}
	}
	if len(sub) != 1 || sub[0] != "approval" {
		t.Errorf("updates went to subresources %q, want [approval]", sub)
	}
	// Already approved: no second condition unless --force.
	c.ClearActions()
	if _, err := decideCSR(ctx, rc, csrApprove, "new", false); err != nil || len(updates(c.Actions())) != 0 {
		t.Errorf("re-approve: %v, %d updates", err, len(updates(c.Actions())))
	}
	if _, err := decideCSR(ctx, rc, csrApprove, "new", true); err != nil {
		t.Fatal(err)
	}
	if got := conditionTypes(t, c, "new"); got != "Approved/KubectlApprove,Approved/KubectlApprove" {
		t.Errorf("forced re-approve conditions %q", got)
	}
	// The opposite decision is refused.
	if _, err := decideCSR(ctx, rc, csrDeny, "approved", false); err == nil || err.Error() != `certificate signing request "approved" is already Approved` {
		t.Errorf("deny an approved CSR: %v", err)
	}
	if _, err := decideCSR(ctx, rc, csrApprove, "denied", true); err == nil || err.Error() != `certificate signing request "denied" is already Denied` {
		t.Errorf("approve a denied CSR: %v", err)
	}
	if _, err := decideCSR(ctx, rc, csrDeny, "missing", false); err == nil {
		t.Error("deny a missing CSR: no error")
	}
}

func updates(actions []k8stesting.Action) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range actions {
		if a.GetVerb() == "update" {
			out = append(out, a)
		}
	}
	return out
}
