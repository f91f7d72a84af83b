package apiserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func clientset(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestConfigMapCRUDTyped(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cms := clientset(t, ts.admin).CoreV1().ConfigMaps("default")

	created, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Data:       map[string]string{"k": "v"},
	}, metav1.CreateOptions{FieldManager: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("system fields not set: %+v", created.ObjectMeta)
	}
	if len(created.ManagedFields) != 1 || created.ManagedFields[0].Manager != "test" {
		t.Errorf("managedFields = %+v", created.ManagedFields)
	}

	got, err := cms.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["k"] != "v" || got.ResourceVersion != created.ResourceVersion || got.UID != created.UID {
		t.Errorf("get = %+v", got)
	}

	// Duplicate create: 409 AlreadyExists with upstream's message.
	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) || err.Error() != `configmaps "web" already exists` {
		t.Errorf("duplicate create: %v", err)
	}

	// Update with the current RV succeeds and bumps it; a stale RV conflicts.
	got.Data["k"] = "v2"
	updated, err := cms.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == got.ResourceVersion {
		t.Error("resourceVersion did not change on update")
	}
	_, err = cms.Update(ctx, got, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the object has been modified") {
		t.Errorf("stale update: %v", err)
	}

	// Patches of every kind.
	patched, err := cms.Patch(ctx, "web", types.MergePatchType, []byte(`{"data":{"m":"1"}}`), metav1.PatchOptions{})
	if err != nil || patched.Data["m"] != "1" || patched.Data["k"] != "v2" {
		t.Fatalf("merge patch: %v %+v", err, patched)
	}
	patched, err = cms.Patch(ctx, "web", types.StrategicMergePatchType, []byte(`{"data":{"s":"2"}}`), metav1.PatchOptions{})
	if err != nil || patched.Data["s"] != "2" {
		t.Fatalf("strategic patch: %v %+v", err, patched)
	}
	patched, err = cms.Patch(ctx, "web", types.JSONPatchType, []byte(`[{"op":"remove","path":"/data/m"}]`), metav1.PatchOptions{})
	if err != nil || patched.Data["m"] != "" {
		t.Fatalf("json patch: %v %+v", err, patched)
	}

	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %d", err, len(list.Items))
	}
	list, err = cms.List(ctx, metav1.ListOptions{LabelSelector: "app=other"})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("list other: %v %d", err, len(list.Items))
	}

	if err := cms.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = cms.Get(ctx, "web", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `configmaps "web" not found` {
		t.Errorf("get after delete: %v", err)
	}
}

func TestCreateIntoMissingNamespace(t *testing.T) {
	ts := newTestServer(t)
	_, err := clientset(t, ts.admin).CoreV1().ConfigMaps("nope").Create(context.Background(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `namespaces "nope" not found` {
		t.Errorf("create in missing namespace: %v", err)
	}
}

func TestDynamicClientJSON(t *testing.T) {
	ts := newTestServer(t)
	dc, err := dynamic.NewForConfig(ts.admin)
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"generateName": "web-"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}},
			},
		},
	}}
	got, err := dc.Resource(gvr).Namespace("default").Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.GetName(), "web-") || len(got.GetName()) != len("web-")+5 {
		t.Errorf("generated name = %q", got.GetName())
	}
	if got.GetUID() == "" || got.GetResourceVersion() == "" {
		t.Errorf("system fields missing: %v", got.Object["metadata"])
	}
}

func TestUnauthenticatedIs401(t *testing.T) {
	ts := newTestServer(t)
	_, err := clientset(t, ts.anon).CoreV1().ConfigMaps("default").List(context.Background(), metav1.ListOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Errorf("anonymous list: %v", err)
	}
	// /version and /healthz are public.
	hc, err := rest.HTTPClientFor(ts.anon)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/version", "/healthz", "/readyz"} {
		resp, err := hc.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s = %d %s", path, resp.StatusCode, body)
		}
		if path == "/version" {
			var info map[string]string
			if err := json.Unmarshal(body, &info); err != nil || info["gitVersion"] != "v1.37.2+kserver" || info["minor"] != "37" {
				t.Errorf("version = %s (%v)", body, err)
			}
		}
	}
}

func TestPatchCannotRenameOrMove(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cms := clientset(t, ts.admin).CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := cms.Patch(ctx, "a", types.JSONPatchType, []byte(`[{"op":"replace","path":"/metadata/name","value":"b"}]`), metav1.PatchOptions{})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "the name of the object (b) does not match the name on the URL (a)") {
		t.Errorf("rename by patch: %v", err)
	}
	_, err = cms.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"namespace":"kube-system"}}`), metav1.PatchOptions{})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("move by patch: %v", err)
	}
}
