package apiserver

import (
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The managed fields of a create are what the structured-merge walk finds
// set in the new object, minus the metadata every object has (name,
// namespace, uid, creationTimestamp, resourceVersion, generation,
// selfLink), which the field manager strips. Controllers create many
// objects that differ only there — a ReplicaSet's pods, a Job's pods, a
// client's pods from one template — and the walk cost about a fifth of the
// CPU of such a create. managedMemo keeps the result of recent creates by
// what the walk depends on: the resource, the manager and the object's
// protobuf encoding with the stripped metadata cleared. A hit copies the
// entries with the time of this write, as the field manager stamps it.
//
// Only objects decoded from protobuf requests are memoized: protobuf
// decoding leaves absent lists and maps nil, so equal encodings mean equal
// objects for the walk, which tells a nil list from an empty one (JSON's
// null and []). Objects that carry managed fields of their own take the
// field manager's path, which reads them.
type managedMemo struct {
	mu      sync.Mutex
	entries map[string][]metav1.ManagedFieldsEntry // times cleared
}

const (
	// managedMemoEntries bounds the memo; when full it starts again
	// (a template's objects find their entry again on the next create).
	managedMemoEntries = 256
	// managedMemoMaxKey: larger objects are not memoized.
	managedMemoMaxKey = 16 << 10
)

func (m *managedMemo) get(key string) ([]metav1.ManagedFieldsEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mf, ok := m.entries[key]
	return mf, ok
}

func (m *managedMemo) put(key string, mf []metav1.ManagedFieldsEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil || len(m.entries) >= managedMemoEntries {
		m.entries = make(map[string][]metav1.ManagedFieldsEntry, managedMemoEntries)
	}
	m.entries[key] = mf
}

// protoMarshaler is what the generated types of the built-in kinds have.
type protoMarshaler interface {
	Marshal() ([]byte, error)
}

// createManagedFields sets the managed fields of obj, about to be created
// by manager, as the field manager computes them against an empty object.
func (c *call) createManagedFields(obj runtime.Object, manager string) (runtime.Object, error) {
	key, ok := c.managedMemoKey(obj, manager)
	if !ok {
		return c.updateManagedFields(c.newEmpty(), obj, manager, "")
	}
	m := mustAccessor(obj)
	if mf, hit := c.s.createMemo.get(key); hit {
		now := metav1.NewTime(time.Now().UTC())
		out := make([]metav1.ManagedFieldsEntry, len(mf))
		for i := range mf {
			out[i] = mf[i]
			out[i].Time = &now
			out[i].FieldsV1 = mf[i].FieldsV1.DeepCopy()
		}
		m.SetManagedFields(out)
		return obj, nil
	}
	fm, err := c.s.fieldManager(c.res, "")
	if err != nil {
		return nil, err
	}
	managed, err := fm.Update(c.newEmpty(), obj, manager)
	if err != nil {
		// As UpdateNoErrors: keep the object without managed fields.
		m.SetManagedFields(nil)
		return obj, nil //nolint:nilerr // the write goes on, as upstream's
	}
	mf := mustAccessor(managed).GetManagedFields()
	memo := make([]metav1.ManagedFieldsEntry, len(mf))
	for i := range mf {
		memo[i] = *mf[i].DeepCopy()
		memo[i].Time = nil
	}
	c.s.createMemo.put(key, memo)
	return managed, nil
}

// managedMemoKey is obj's memo key, or false when obj is not memoized.
func (c *call) managedMemoKey(obj runtime.Object, manager string) (string, bool) {
	if c.r == nil || !strings.HasPrefix(c.r.Header.Get("Content-Type"), mediaProtobuf) {
		return "", false
	}
	pm, ok := obj.(protoMarshaler)
	if !ok {
		return "", false
	}
	m := mustAccessor(obj)
	if len(m.GetManagedFields()) > 0 {
		return "", false
	}
	var data []byte
	var err error
	if ev, ok := obj.(*corev1.Event); ok {
		data, err = eventShape(ev).Marshal()
	} else {
		data, err = marshalWithoutStripped(m, pm)
	}
	if err != nil || len(data) > managedMemoMaxKey {
		return "", false
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	var b strings.Builder
	b.Grow(len(data) + len(manager) + 64)
	b.WriteString(c.res.GroupVersionResource().String())
	b.WriteByte(0)
	b.WriteString(gvk.String())
	b.WriteByte(0)
	b.WriteString(manager)
	b.WriteByte(0)
	b.Write(data)
	return b.String(), true
}

// marshalWithoutStripped is the protobuf encoding of the object of m with
// the metadata the field manager strips cleared (and restored after).
func marshalWithoutStripped(m metav1.Object, pm protoMarshaler) ([]byte, error) {
	name, ns, uid, created := m.GetName(), m.GetNamespace(), m.GetUID(), m.GetCreationTimestamp()
	rv, gen, link := m.GetResourceVersion(), m.GetGeneration(), m.GetSelfLink()
	clearStripped(m)
	data, err := pm.Marshal()
	m.SetName(name)
	m.SetNamespace(ns)
	m.SetUID(uid)
	m.SetCreationTimestamp(created)
	m.SetResourceVersion(rv)
	m.SetGeneration(gen)
	m.SetSelfLink(link)
	return data, err
}

func clearStripped(m metav1.Object) {
	m.SetName("")
	m.SetNamespace("")
	m.SetUID("")
	m.SetCreationTimestamp(metav1.Time{})
	m.SetResourceVersion("")
	m.SetGeneration(0)
	m.SetSelfLink("")
}

// eventShape is ev as the managed-fields walk sees it: besides the
// stripped metadata, each field of an Event is a scalar or an atomic
// struct of scalars (no list or map keys outside metadata), so only
// whether it is set reaches the field set — the walk compares it with the
// empty object's zero value. Every set value becomes one fixed value, so
// that every Event a component writes (its reason and its object's name,
// uid and times differ) shares one memo entry.
func eventShape(ev *corev1.Event) *corev1.Event {
	n := *ev
	clearStripped(&n.ObjectMeta)
	n.InvolvedObject = refShape(n.InvolvedObject)
	if n.Related != nil {
		r := refShape(*n.Related)
		n.Related = &r
	}
	for _, s := range []*string{&n.Reason, &n.Message, &n.Source.Component, &n.Source.Host, &n.Type, &n.Action,
		&n.ReportingController, &n.ReportingInstance} {
		*s = stringShape(*s)
	}
	n.FirstTimestamp, n.LastTimestamp = timeShape(n.FirstTimestamp), timeShape(n.LastTimestamp)
	n.EventTime = microTimeShape(n.EventTime)
	n.Count = countShape(n.Count)
	if n.Series != nil {
		n.Series = &corev1.EventSeries{Count: countShape(n.Series.Count), LastObservedTime: microTimeShape(n.Series.LastObservedTime)}
	}
	return &n
}

func refShape(r corev1.ObjectReference) corev1.ObjectReference {
	for _, s := range []*string{&r.Kind, &r.Namespace, &r.Name, &r.APIVersion, &r.ResourceVersion, &r.FieldPath} {
		*s = stringShape(*s)
	}
	if r.UID != "" {
		r.UID = "x"
	}
	return r
}

func countShape(n int32) int32 {
	if n == 0 {
		return 0
	}
	return 1
}

func stringShape(s string) string {
	if s == "" {
		return ""
	}
	return "x"
}

// shapeTime stands for every set time.
var shapeTime = time.Unix(1, 0).UTC()

func timeShape(t metav1.Time) metav1.Time {
	if t.IsZero() {
		return t
	}
	return metav1.NewTime(shapeTime)
}

func microTimeShape(t metav1.MicroTime) metav1.MicroTime {
	if t.IsZero() {
		return t
	}
	return metav1.NewMicroTime(shapeTime)
}
