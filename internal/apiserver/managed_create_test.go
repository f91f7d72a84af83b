package apiserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/client"
)

// TestCreateManagedFieldsMemo creates pods of several shapes through a
// protobuf client (memoized after the first of each shape) and through a
// JSON client (never memoized): every pod's managed fields must be the
// field manager's — the same entry for every pod of one shape, whichever
// client created it and whether the memo answered.
func TestCreateManagedFieldsMemo(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	user := User{Name: "test", Groups: []string{groupMasters}}
	protoCfg := ts.RestConfig(user)
	protoCfg.UserAgent = "memo-test/1.0"
	jsonCfg := ts.RestConfig(user)
	jsonCfg.UserAgent = "memo-test/1.0"
	jsonCfg.ContentType = mediaJSON
	protoSet, err := client.New(protoCfg)
	if err != nil {
		t.Fatal(err)
	}
	jsonSet, err := client.New(jsonCfg)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]func(name string) *corev1.Pod{
		"plain": func(name string) *corev1.Pod {
			return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "a"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}
		},
		"ports-env": func(name string) *corev1.Pod {
			return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "b", "tier": "web"},
				Annotations: map[string]string{"note": "x"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx",
					Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
					Env:   []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B"}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80)}}}},
					{Name: "side", Image: "busybox", Command: []string{"sleep", "1d"}}},
					NodeSelector: map[string]string{"disk": "ssd"}}}
		},
	}
	for shape, mk := range shapes {
		var want *metav1.ManagedFieldsEntry
		for i, set := range []*client.Set{jsonSet, protoSet, protoSet, jsonSet, protoSet} {
			got, err := set.Pods("default").Create(ctx, mk(fmt.Sprintf("%s-%d", shape, i)), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("%s %d: %v", shape, i, err)
			}
			if len(got.ManagedFields) != 1 {
				t.Fatalf("%s %d: managed fields %+v", shape, i, got.ManagedFields)
			}
			e := got.ManagedFields[0]
			if e.Time == nil || e.Time.IsZero() {
				t.Fatalf("%s %d: entry without time: %+v", shape, i, e)
			}
			e.Time = nil
			if want == nil {
				want = &e
				if e.Manager != "memo-test" || e.Operation != metav1.ManagedFieldsOperationUpdate || e.APIVersion != "v1" || e.FieldsType != "FieldsV1" {
					t.Fatalf("%s: entry %+v", shape, e)
				}
				continue
			}
			if e.Manager != want.Manager || e.Operation != want.Operation || e.APIVersion != want.APIVersion ||
				e.FieldsType != want.FieldsType || string(e.FieldsV1.Raw) != string(want.FieldsV1.Raw) {
				t.Errorf("%s %d: managed fields\n%+v %s\nwant\n%+v %s", shape, i, e, e.FieldsV1.Raw, *want, want.FieldsV1.Raw)
			}
		}
	}
	ts.createMemo.mu.Lock()
	n := len(ts.createMemo.entries)
	ts.createMemo.mu.Unlock()
	if n != len(shapes) {
		t.Errorf("memo holds %d entries, want one per shape (%d): protobuf creates of one shape must share one", n, len(shapes))
	}
}

// TestCreateManagedFieldsMemoOwnFields: a protobuf create that carries
// managed fields of its own keeps the entries of fields it does not set
// (the field manager reads them; the creator takes the fields it sets), as
// upstream.
func TestCreateManagedFieldsMemoOwnFields(t *testing.T) {
	ts := newTestServer(t)
	set, err := client.New(ts.RestConfig(User{Name: "test", Groups: []string{groupMasters}}))
	if err != nil {
		t.Fatal(err)
	}
	own := metav1.ManagedFieldsEntry{Manager: "someone", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:other":{}}}`)}}
	for i := range 2 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i),
			ManagedFields: []metav1.ManagedFieldsEntry{own}}, Data: map[string]string{"a": "1"}}
		got, err := set.ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var managers []string
		for _, e := range got.ManagedFields {
			managers = append(managers, e.Manager)
		}
		if len(managers) != 2 || managers[0] != "someone" || string(got.ManagedFields[0].FieldsV1.Raw) != string(own.FieldsV1.Raw) {
			t.Fatalf("create %d: managers %v, want the request's own entry kept", i, managers)
		}
	}
}

// TestCreateManagedFieldsMemoEvents: Events that differ only in their
// values share a memo entry, Events that differ in which fields are set
// do not, and every Event's managed fields are those of the same Event
// created through JSON (the field manager's path).
func TestCreateManagedFieldsMemoEvents(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	user := User{Name: "test", Groups: []string{groupMasters}}
	protoCfg, jsonCfg := ts.RestConfig(user), ts.RestConfig(user)
	jsonCfg.ContentType = mediaJSON
	protoSet, err := client.New(protoCfg)
	if err != nil {
		t.Fatal(err)
	}
	jsonSet, err := client.New(jsonCfg)
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	base := func(i int) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d.abc%d", i, i)},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: fmt.Sprintf("pod-%d", i),
				UID: types.UID(fmt.Sprintf("uid-%d", i)), APIVersion: "v1", ResourceVersion: fmt.Sprint(100 + i)},
			Reason: "Scheduled", Message: fmt.Sprintf("Successfully assigned default/pod-%d to node-%d", i, i%3),
			Source: corev1.EventSource{Component: "default-scheduler"}, FirstTimestamp: now, LastTimestamp: now,
			Count: 1, Type: corev1.EventTypeNormal, ReportingController: "default-scheduler", ReportingInstance: "me"}
	}
	variants := []struct {
		name  string
		shape int // variants of one shape share a memo entry
		edit  func(*corev1.Event)
	}{
		{"scheduled", 0, func(*corev1.Event) {}},
		{"other values", 0, func(e *corev1.Event) {
			e.Reason, e.Message, e.Count, e.Type = "Pulled", "other", 7, corev1.EventTypeWarning
			e.FirstTimestamp = metav1.NewTime(now.Add(-time.Hour))
		}},
		{"no message", 1, func(e *corev1.Event) { e.Message = "" }},
		{"no uid, no count", 2, func(e *corev1.Event) { e.InvolvedObject.UID, e.Count = "", 0 }},
		{"related, series, action, eventTime", 3, func(e *corev1.Event) {
			e.Related = &corev1.ObjectReference{Kind: "Node", Name: "n"}
			e.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(now.Time)}
			e.Action, e.EventTime = "Binding", metav1.NewMicroTime(now.Time)
		}},
		{"no timestamps", 4, func(e *corev1.Event) { e.FirstTimestamp, e.LastTimestamp = metav1.Time{}, metav1.Time{} }},
	}
	shapes := map[int]bool{}
	for i, v := range variants {
		shapes[v.shape] = true
		var entries [2]metav1.ManagedFieldsEntry
		for j, set := range []*client.Set{jsonSet, protoSet} {
			ev := base(10*i + j)
			v.edit(ev)
			got, err := set.Events("default").Create(ctx, ev, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
			if len(got.ManagedFields) != 1 {
				t.Fatalf("%s: managed fields %+v", v.name, got.ManagedFields)
			}
			entries[j] = got.ManagedFields[0]
		}
		if string(entries[0].FieldsV1.Raw) != string(entries[1].FieldsV1.Raw) || entries[0].Manager != entries[1].Manager {
			t.Errorf("%s: protobuf create's managed fields %s (%s), JSON create's %s (%s)", v.name,
				entries[1].FieldsV1.Raw, entries[1].Manager, entries[0].FieldsV1.Raw, entries[0].Manager)
		}
	}
	ts.createMemo.mu.Lock()
	n := len(ts.createMemo.entries)
	ts.createMemo.mu.Unlock()
	if n != len(shapes) {
		t.Errorf("memo holds %d entries, want one per shape (%d)", n, len(shapes))
	}
}
