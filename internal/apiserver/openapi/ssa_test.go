package openapi

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/yaml"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// Server-side apply through the type converter: two managers apply
// different containers of one Deployment; the list is merged by name and
// each owns its own item; a conflicting change is refused unless forced.
func TestTypeConverterServerSideApply(t *testing.T) {
	d := testDocs(t)
	scheme := d.scheme
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	fm, err := managedfields.NewDefaultFieldManager(d.TypeConverter(), scheme, scheme, scheme, gvk, gvk.GroupVersion(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(live runtime.Object, manifest, manager string, force bool) (runtime.Object, error) {
		t.Helper()
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
			t.Fatal(err)
		}
		return fm.Apply(live, u, manager, force)
	}
	const head = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n" +
		"  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n"
	live := &appsv1.Deployment{}
	live.SetGroupVersionKind(gvk)
	obj, err := apply(live, head+"      - name: web\n        image: nginx:1\n", "alice", false)
	if err != nil {
		t.Fatalf("alice applies: %v", err)
	}
	if obj, err = apply(obj, head+"      - name: log\n        image: busybox\n", "bob", false); err != nil {
		t.Fatalf("bob applies: %v", err)
	}
	dep := toDeployment(t, obj)
	if names := containerNames(dep); names != "web,log" {
		t.Fatalf("containers after both applies = %s, want web,log (merged by name)", names)
	}
	owners := fieldOwners(t, obj)
	if !strings.Contains(owners["alice"], `k:{\"name\":\"web\"}`) || strings.Contains(owners["alice"], `k:{\"name\":\"log\"}`) {
		t.Errorf("alice's fields: %s", owners["alice"])
	}
	if !strings.Contains(owners["bob"], `k:{\"name\":\"log\"}`) || strings.Contains(owners["bob"], `k:{\"name\":\"web\"}`) {
		t.Errorf("bob's fields: %s", owners["bob"])
	}

	_, err = apply(obj, head+"      - name: web\n        image: nginx:2\n", "bob", false)
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `.spec.template.spec.containers[name="web"].image`) {
		t.Fatalf("bob changing alice's image: err = %v, want a conflict on the image", err)
	}
	if obj, err = apply(obj, head+"      - name: web\n        image: nginx:2\n", "bob", true); err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	dep = toDeployment(t, obj)
	// bob's applied set is now only the web container: log, which only
	// bob owned, is removed; web keeps alice as co-owner of its name.
	if names := containerNames(dep); names != "web" || dep.Spec.Template.Spec.Containers[0].Image != "nginx:2" {
		t.Errorf("after forced apply containers = %s image %s", names, dep.Spec.Template.Spec.Containers[0].Image)
	}
	if owners = fieldOwners(t, obj); strings.Contains(owners["alice"], "f:image") {
		t.Errorf("alice still owns the image after bob forced it: %s", owners["alice"])
	}
}

func toDeployment(t *testing.T, obj runtime.Object) *appsv1.Deployment {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{}
	if err := json.Unmarshal(raw, dep); err != nil {
		t.Fatal(err)
	}
	return dep
}

func containerNames(d *appsv1.Deployment) string {
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// fieldOwners maps each manager to the JSON of the fields it owns.
func fieldOwners(t *testing.T, obj runtime.Object) map[string]string {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range acc.GetManagedFields() {
		raw, _ := json.Marshal(e.FieldsV1)
		out[e.Manager] += string(raw)
	}
	return out
}

// Concurrent first requests and first writes build each thing once and
// safely (run with -race).
func TestConcurrentLazyBuilds(t *testing.T) {
	d, err := New(Config{Resources: registry.New().Resources(schema.GroupVersion{Group: "apps", Version: "v1"})})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 4 {
		wg.Add(3)
		go func() { defer wg.Done(); _, err := d.V3Index(); errs <- err }()
		go func() { defer wg.Done(); _, _, err := d.V2Protobuf(); errs <- err }()
		go func() {
			defer wg.Done()
			obj := &appsv1.Deployment{}
			if i%2 == 1 {
				obj = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
			}
			obj.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
			_, err := d.TypeConverter().ObjectToTyped(obj)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
