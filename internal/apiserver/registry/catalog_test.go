package registry

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	resourcev1 "k8s.io/api/resource/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// testScheme holds every GA group/version of k8s.io/api, the set
// kube-apiserver serves by default.
func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, eventsv1.AddToScheme, authenticationv1.AddToScheme,
		authorizationv1.AddToScheme, autoscalingv1.AddToScheme, autoscalingv2.AddToScheme, batchv1.AddToScheme,
		certificatesv1.AddToScheme, networkingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme,
		storagev1.AddToScheme, admissionregistrationv1.AddToScheme, schedulingv1.AddToScheme,
		coordinationv1.AddToScheme, nodev1.AddToScheme, discoveryv1.AddToScheme, flowcontrolv1.AddToScheme,
		resourcev1.AddToScheme, storagemigrationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestGroupsInDiscoveryOrder(t *testing.T) {
	r := New()
	var got []string
	for _, g := range r.Groups() {
		got = append(got, g.Name+"="+strings.Join(g.Versions, ","))
	}
	want := []string{
		"=v1", "apps=v1", "events.k8s.io=v1", "authentication.k8s.io=v1", "authorization.k8s.io=v1",
		"autoscaling=v2,v1", "batch=v1", "certificates.k8s.io=v1", "networking.k8s.io=v1", "policy=v1",
		"rbac.authorization.k8s.io=v1", "storage.k8s.io=v1", "admissionregistration.k8s.io=v1",
		"scheduling.k8s.io=v1", "coordination.k8s.io=v1", "node.k8s.io=v1", "discovery.k8s.io=v1",
		"flowcontrol.apiserver.k8s.io=v1", "resource.k8s.io=v1", "storagemigration.k8s.io=v1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("groups:\n got %v\nwant %v", got, want)
	}
}

func TestCoreV1Resources(t *testing.T) {
	r := New()
	var got []string
	for _, res := range r.Resources(schema.GroupVersion{Version: "v1"}) {
		got = append(got, res.Resource)
		for _, s := range res.Subresources {
			got = append(got, res.Resource+"/"+s.Name+":"+s.Kind.GroupVersion().String()+"/"+s.Kind.Kind+":"+strings.Join(s.Verbs, ","))
		}
	}
	want := []string{
		"bindings", "componentstatuses", "configmaps", "endpoints", "events", "limitranges",
		"namespaces", "namespaces/finalize:v1/Namespace:update", "namespaces/status:v1/Namespace:get,patch,update",
		"nodes", "nodes/proxy:v1/NodeProxyOptions:create,delete,get,patch,update", "nodes/status:v1/Node:get,patch,update",
		"persistentvolumeclaims", "persistentvolumeclaims/status:v1/PersistentVolumeClaim:get,patch,update",
		"persistentvolumes", "persistentvolumes/status:v1/PersistentVolume:get,patch,update",
		"pods", "pods/attach:v1/PodAttachOptions:create,get", "pods/binding:v1/Binding:create",
		"pods/ephemeralcontainers:v1/Pod:get,patch,update", "pods/eviction:policy/v1/Eviction:create",
		"pods/exec:v1/PodExecOptions:create,get", "pods/log:v1/Pod:get",
		"pods/portforward:v1/PodPortForwardOptions:create,get",
		"pods/proxy:v1/PodProxyOptions:create,delete,get,patch,update", "pods/resize:v1/Pod:get,patch,update",
		"pods/status:v1/Pod:get,patch,update",
		"podtemplates", "replicationcontrollers",
		"replicationcontrollers/scale:autoscaling/v1/Scale:get,patch,update",
		"replicationcontrollers/status:v1/ReplicationController:get,patch,update",
		"resourcequotas", "resourcequotas/status:v1/ResourceQuota:get,patch,update", "secrets",
		"serviceaccounts", "serviceaccounts/token:authentication.k8s.io/v1/TokenRequest:create",
		"services", "services/proxy:v1/ServiceProxyOptions:create,delete,get,patch,update",
		"services/status:v1/Service:get,patch,update",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("core/v1:\n got %q\nwant %q", got, want)
	}
	ns, _ := r.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	if ns.HasVerb("deletecollection") || !ns.HasVerb("watch") || ns.Namespaced {
		t.Errorf("namespaces: verbs %v namespaced %v", ns.Verbs, ns.Namespaced)
	}
	cs, _ := r.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "componentstatuses"})
	if !reflect.DeepEqual(cs.Verbs, []string{"get", "list"}) || !reflect.DeepEqual(cs.ShortNames, []string{"cs"}) {
		t.Errorf("componentstatuses: %v %v", cs.Verbs, cs.ShortNames)
	}
}

// kubectl get all expands the category "all" over the preferred version of
// each group, in discovery order.
func TestCategoryAllMatchesUpstream(t *testing.T) {
	r := New()
	var got []string
	for _, g := range r.Groups() {
		for _, res := range r.Resources(schema.GroupVersion{Group: g.Name, Version: g.PreferredVersion()}) {
			for _, c := range res.Categories {
				if c == "all" {
					got = append(got, strings.TrimSuffix(res.Resource+"."+g.Name, "."))
				}
			}
		}
	}
	want := []string{"pods", "replicationcontrollers", "services", "daemonsets.apps", "deployments.apps",
		"replicasets.apps", "statefulsets.apps", "horizontalpodautoscalers.autoscaling", "cronjobs.batch", "jobs.batch"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("all:\n got %v\nwant %v", got, want)
	}
}

func TestFind(t *testing.T) {
	r := New()
	for _, tc := range []struct {
		name string
		want []string // group/version/resource
	}{
		{"po", []string{"/v1/pods"}},
		{"Pods", []string{"/v1/pods"}},
		{"pod", []string{"/v1/pods"}},
		{"deploy", []string{"apps/v1/deployments"}},
		{"deployments.apps", []string{"apps/v1/deployments"}},
		{"deployment.v1.apps", []string{"apps/v1/deployments"}},
		{"hpa", []string{"autoscaling/v2/horizontalpodautoscalers"}},
		{"hpa.v1.autoscaling", []string{"autoscaling/v1/horizontalpodautoscalers"}},
		{"ev", []string{"/v1/events", "events.k8s.io/v1/events"}},
		{"events.events.k8s.io", []string{"events.k8s.io/v1/events"}},
		{"netpol", []string{"networking.k8s.io/v1/networkpolicies"}},
		{"vac", []string{"storage.k8s.io/v1/volumeattributesclasses"}},
		{"csr", []string{"certificates.k8s.io/v1/certificatesigningrequests"}},
		{"nosuch", nil},
		{"pods.nosuch.group", nil},
	} {
		var got []string
		for _, res := range r.Find(tc.name) {
			got = append(got, res.GroupVersion.Group+"/"+res.GroupVersion.Version+"/"+res.Resource)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Find(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSharedStorageVersions(t *testing.T) {
	r := New()
	for _, tc := range []struct {
		gvr     schema.GroupVersionResource
		storage schema.GroupVersion
	}{
		{schema.GroupVersionResource{Group: "autoscaling", Version: "v1", Resource: "horizontalpodautoscalers"}, schema.GroupVersion{Group: "autoscaling", Version: "v2"}},
		{schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}, schema.GroupVersion{Group: "autoscaling", Version: "v2"}},
		{schema.GroupVersionResource{Group: "events.k8s.io", Version: "v1", Resource: "events"}, schema.GroupVersion{Version: "v1"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "events"}, schema.GroupVersion{Version: "v1"}},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, schema.GroupVersion{Group: "apps", Version: "v1"}},
	} {
		res, ok := r.Lookup(tc.gvr)
		if !ok {
			t.Fatalf("%v not served", tc.gvr)
		}
		if res.StorageVersion != tc.storage {
			t.Errorf("%v stored as %v, want %v", tc.gvr, res.StorageVersion, tc.storage)
		}
		if k, ok := r.LookupKind(res.GroupVersionKind()); !ok || k != res {
			t.Errorf("LookupKind(%v) did not find %v", res.GroupVersionKind(), tc.gvr)
		}
	}
}

// Every top-level kind of a GA group/version in k8s.io/api is served,
// except the ones upstream only speaks through a subresource or a
// request's options, and every served kind exists in k8s.io/api.
func TestCatalogCoversKubernetesAPI(t *testing.T) {
	scheme := testScheme(t)
	r := New()
	notResources := map[string]bool{
		"Scale": true, "Eviction": true, "TokenRequest": true, "SerializedReference": true,
		"RangeAllocation": true, "Status": true, "WatchEvent": true, "DeleteOptions": true,
		"ListOptions": true, "GetOptions": true, "CreateOptions": true, "UpdateOptions": true,
		"PatchOptions": true, "APIVersions": true, "APIGroup": true, "APIGroupList": true,
		"APIResourceList": true, "InternalEvent": true,
	}
	for gvk := range scheme.AllKnownTypes() {
		if strings.HasSuffix(gvk.Kind, "List") || strings.HasSuffix(gvk.Kind, "Options") || notResources[gvk.Kind] {
			continue
		}
		if _, ok := r.LookupKind(gvk); !ok {
			t.Errorf("%v is in k8s.io/api but not served", gvk)
		}
	}
	for _, res := range r.All() {
		if !scheme.Recognizes(res.GroupVersionKind()) {
			t.Errorf("%v serves unknown kind %v", res.GroupVersionResource(), res.GroupVersionKind())
		}
	}
}

// Every resource's strategy handles an object of its storage kind: a
// minimal valid object passes validation, prints, and yields field sets.
func TestEveryStrategyHandlesItsKind(t *testing.T) {
	scheme := testScheme(t)
	r := New()
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, res := range r.All() {
		if !res.HasVerb("list") {
			continue // create-only reviews and bindings are never stored
		}
		obj, err := scheme.New(res.StorageVersion.WithKind(res.Kind))
		if err != nil {
			t.Fatalf("%v: %v", res.GroupVersionResource(), err)
		}
		m := obj.(metav1.Object)
		m.SetName("x")
		if res.Namespaced {
			m.SetNamespace("default")
		}
		m.SetCreationTimestamp(metav1.NewTime(now.Add(-time.Hour)))
		res.Strategy.Default(obj)
		res.Strategy.PrepareForCreate(ctx, obj)
		cells, err := res.Strategy.TableRow(obj, now)
		if err != nil {
			t.Errorf("%v: TableRow: %v", res.GroupVersionResource(), err)
		}
		if cols := res.Strategy.TableColumns(); len(cells) != len(cols) {
			t.Errorf("%v: %d cells for %d columns", res.GroupVersionResource(), len(cells), len(cols))
		} else if cols[0].Format != "name" && res.Kind != "Event" {
			t.Errorf("%v: first column %q is not the name", res.GroupVersionResource(), cols[0].Name)
		}
		fs := res.Strategy.FieldSet(obj)
		if fs["metadata.name"] != "x" {
			t.Errorf("%v: field set %v", res.GroupVersionResource(), fs)
		}
		for _, l := range res.SelectableFields() {
			if _, ok := fs[l]; !ok && l != "spec.host" && (l != "metadata.namespace" || res.Namespaced) {
				// every accepted label must be matchable after conversion
				if conv, _, err := res.convertFieldLabel(l, ""); err != nil || !hasKey(fs, conv) {
					t.Errorf("%v: selectable field %q missing from field set %v", res.GroupVersionResource(), l, fs)
				}
			}
		}
	}
}

func hasKey(fs map[string]string, k string) bool { _, ok := fs[k]; return ok }
