package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestConvertFieldSelector(t *testing.T) {
	r := New()
	pods, _ := r.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "pods"})
	nodes, _ := r.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "nodes"})
	cms, _ := r.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"})
	events, _ := r.Lookup(schema.GroupVersionResource{Group: "events.k8s.io", Version: "v1", Resource: "events"})
	for _, tc := range []struct {
		res     *Resource
		sel     string
		want    string
		wantErr string
	}{
		{pods, "spec.nodeName=n1,status.phase!=Succeeded", "spec.nodeName=n1,status.phase!=Succeeded", ""},
		{pods, "spec.host=n1", "spec.nodeName=n1", ""},
		{pods, "metadata.namespace=default", "metadata.namespace=default", ""},
		{pods, "spec.foo=bar", "", "field label not supported: spec.foo"},
		{nodes, "spec.unschedulable=true", "spec.unschedulable=true", ""},
		{nodes, "metadata.namespace=x", "", "field label not supported: metadata.namespace"},
		{cms, "metadata.name=a", "metadata.name=a", ""},
		{cms, "data.x=a", "", `"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		{events, "regarding.name=web,reportingController=kubelet", "involvedObject.name=web,reportingComponent=kubelet", ""},
		{events, "regarding.kind=Pod,type=Warning,reason=BackOff", "reason=BackOff,involvedObject.kind=Pod,type=Warning", ""},
		{events, "involvedObject.name=web", "", "field label not supported: involvedObject.name"},
		{events, "source=kubelet", "", "field label not supported: source"},
	} {
		sel, err := fields.ParseSelector(tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tc.res.ConvertFieldSelector(sel)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s %q: err %v, want %q", tc.res.Resource, tc.sel, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%s %q: got %v, %v; want %q", tc.res.Resource, tc.sel, got, err, tc.want)
		}
	}
}

func TestPodFieldSetMatches(t *testing.T) {
	r := New()
	pods, _ := r.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "pods"})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: "n1", RestartPolicy: corev1.RestartPolicyAlways, HostNetwork: true},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.42.0.5"}, {IP: "fd00::5"}}},
	}
	for sel, want := range map[string]bool{
		"spec.nodeName=n1":                             true,
		"spec.nodeName=n2":                             false,
		"status.phase!=Succeeded":                      true,
		"spec.hostNetwork=true":                        true,
		"status.podIP=10.42.0.5":                       true,
		"metadata.name=web,metadata.namespace=default": true,
	} {
		s, err := fields.ParseSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		s, err = pods.ConvertFieldSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Matches(pods.Strategy.FieldSet(pod)); got != want {
			t.Errorf("%q matches = %v, want %v", sel, got, want)
		}
	}
}
