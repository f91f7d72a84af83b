package history

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTemplatePatchRoundTrip(t *testing.T) {
	ds := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}}}
	data, err := TemplatePatch(ds)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), `{"spec":{"template":{"$patch":"replace","metadata":`) {
		t.Fatalf("patch %s", data)
	}
	tmpl, err := TemplateOf(&appsv1.ControllerRevision{Data: runtimeRaw(data)})
	if err != nil || tmpl.Spec.Containers[0].Image != "img:1" || tmpl.Labels["app"] != "x" {
		t.Fatalf("template %+v %v", tmpl, err)
	}
}

func TestHashAndRevisions(t *testing.T) {
	a, b := Hash([]byte("x"), nil), Hash([]byte("x"), nil)
	if a != b || a == Hash([]byte("y"), nil) {
		t.Fatal("hash must be stable and depend on the data")
	}
	one := int32(1)
	if a == Hash([]byte("x"), &one) {
		t.Fatal("collision count must change the hash")
	}
	owner := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u"}}
	r := New(owner, appsv1.SchemeGroupVersion.WithKind("StatefulSet"), map[string]string{"app": "web"}, []byte(`{}`), 3, nil)
	if r.Name != "web-"+r.Labels[HashLabel] || r.Revision != 3 || !metav1.IsControlledBy(r, owner) || r.Labels["app"] != "web" {
		t.Fatalf("revision %+v", r)
	}
	revs := []*appsv1.ControllerRevision{{Revision: 2}, {Revision: 1}, {Revision: 5}}
	Sort(revs)
	if revs[0].Revision != 1 || revs[2].Revision != 5 || Next(revs) != 6 || Next(nil) != 1 {
		t.Fatal("sort and next revision")
	}
}
