package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/store"
)

func testDeployment(name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

func testPod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
}

func TestScaleSubresource(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	deps := clientset(t, ts.admin).AppsV1().Deployments("default")
	if _, err := deps.Create(ctx, testDeployment("web", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sc, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Spec.Replicas != 1 || sc.Status.Selector != "app=web" {
		t.Fatalf("scale = %+v", sc)
	}
	// kubectl scale: merge patch on /scale.
	_, err = deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}, "scale")
	if err != nil {
		t.Fatal(err)
	}

	got, err := deps.Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *got.Spec.Replicas != 3 {
		t.Fatalf("after scale patch: %v replicas=%v", err, got.Spec.Replicas)
	}
	sc.Spec.Replicas = 5
	if _, err := deps.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale scale update: %v", err)
	}
	sc.ResourceVersion = ""
	sc.Spec.Replicas = -1
	if _, err := deps.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("negative replicas: %v", err)
	}
	sc.Spec.Replicas = 5
	if got, err := deps.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil || got.Spec.Replicas != 5 {
		t.Fatalf("scale update: %v %+v", err, got)
	}
	d, _ := deps.Get(ctx, "web", metav1.GetOptions{})
	if *d.Spec.Replicas != 5 {
		t.Errorf("deployment replicas = %d", *d.Spec.Replicas)
	}
}

func TestBindingAndEviction(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, testPod("web-1", map[string]string{"app": "web"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web-1"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node1"}}
	if err := pods.Bind(ctx, bind, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, _ := pods.Get(ctx, "web-1", metav1.GetOptions{})
	if p.Spec.NodeName != "node1" {
		t.Fatalf("nodeName = %q", p.Spec.NodeName)
	}
	err := pods.Bind(ctx, bind, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `pod web-1 is already assigned to node "node1"`) {
		t.Errorf("second bind: %v", err)
	}

	// A PDB that allows no disruption blocks the eviction with 429.
	one := intstr.FromInt32(1)
	pdbs := cs.PolicyV1().PodDisruptionBudgets("default")
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web-pdb"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DesiredHealthy: 1, CurrentHealthy: 1, ExpectedPods: 1}
	if pdb, err = pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default"}}
	err = pods.EvictV1(ctx, ev)
	if !apierrors.IsTooManyRequests(err) || err.Error() != "Cannot evict pod as it would violate the pod's disruption budget." {
		t.Fatalf("eviction under PDB: %v", err)
	}
	st := err.(apierrors.APIStatus).Status()
	if len(st.Details.Causes) != 1 || st.Details.Causes[0].Message != "The disruption budget web-pdb needs 1 healthy pods and has 1 currently" {
		t.Errorf("causes = %+v", st.Details)
	}

	// Once the budget allows one disruption, the eviction deletes the pod
	// gracefully (it is bound, so deletionTimestamp is set).
	pdb.Status.DisruptionsAllowed, pdb.Status.CurrentHealthy = 1, 2
	if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.EvictV1(ctx, ev); err != nil {
		t.Fatal(err)
	}
	p, err = pods.Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("evicted pod: %v %+v", err, p.ObjectMeta)
	}
	got, _ := pdbs.Get(ctx, "web-pdb", metav1.GetOptions{})
	if got.Status.DisruptionsAllowed != 0 || got.Status.DisruptedPods["web-1"].Time.IsZero() {
		t.Errorf("pdb status after eviction = %+v", got.Status)
	}
	// The node agent finishes the deletion with a zero grace period.
	zero := int64(0)
	if err := pods.Delete(ctx, "web-1", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "web-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod after final delete: %v", err)
	}
}

func TestServiceAccountToken(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	sas := clientset(t, ts.admin).CoreV1().ServiceAccounts("default")
	if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := sas.CreateToken(ctx, "bot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tr.Status.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tr.Status.Token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != "system:serviceaccount:default:bot" {
		t.Errorf("claims = %v", claims)
	}
	if d := tr.Status.ExpirationTimestamp.Sub(tr.CreationTimestamp.Time); d.Seconds() != 3600 {
		t.Errorf("token lifetime = %v", d)
	}
	_, err = sas.CreateToken(ctx, "nobody", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `serviceaccounts "nobody" not found` {
		t.Errorf("token for missing SA: %v", err)
	}
}

func TestNodeProxiedSubresourcesAnswerClearly(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	pods := clientset(t, ts.admin).CoreV1().Pods("default")
	if _, err := pods.Create(ctx, testPod("p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := pods.GetLogs("p", &corev1.PodLogOptions{}).Do(ctx).Error()
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "node agent") {
		t.Errorf("logs: %v", err)
	}
}

func TestReviewsAreAnsweredNotStored(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	ssr, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ssr.Status.UserInfo.Username != "system:admin" || !slices.Contains(ssr.Status.UserInfo.Groups, "system:masters") {
		t.Errorf("whoami = %+v", ssr.Status.UserInfo)
	}
	ssar, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}},
	}, metav1.CreateOptions{})
	if err != nil || !ssar.Status.Allowed {
		t.Fatalf("can-i: %v %+v", err, ssar)
	}
	// A token issued by the server passes a TokenReview; a forged one fails.
	sas := cs.CoreV1().ServiceAccounts("default")
	if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := sas.CreateToken(ctx, "bot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := cs.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}}, metav1.CreateOptions{})
	if err != nil || !rev.Status.Authenticated || rev.Status.User.Username != "system:serviceaccount:default:bot" {
		t.Fatalf("token review: %v %+v", err, rev.Status)
	}
	forged := tr.Status.Token[:len(tr.Status.Token)-4] + "AAAA"
	rev, err = cs.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: forged}}, metav1.CreateOptions{})
	if err != nil || rev.Status.Authenticated {
		t.Errorf("forged token review: %v %+v", err, rev.Status)
	}
	// Nothing was stored.
	lr, err := ts.cfg.Store.List(ctx, "/registry/selfsubjectaccessreviews/", store.ListOptions{})
	if err != nil || len(lr.KVs) != 0 {
		t.Errorf("reviews stored: %v %d", err, len(lr.KVs))
	}
}
