package apiserver

import (
	"strings"
	"sync"
	"time"

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
	name, ns, uid, created := m.GetName(), m.GetNamespace(), m.GetUID(), m.GetCreationTimestamp()
	rv, gen, link := m.GetResourceVersion(), m.GetGeneration(), m.GetSelfLink()
	m.SetName("")
	m.SetNamespace("")
	m.SetUID("")
	m.SetCreationTimestamp(metav1.Time{})
	m.SetResourceVersion("")
	m.SetGeneration(0)
	m.SetSelfLink("")
	data, err := pm.Marshal()
	m.SetName(name)
	m.SetNamespace(ns)
	m.SetUID(uid)
	m.SetCreationTimestamp(created)
	m.SetResourceVersion(rv)
	m.SetGeneration(gen)
	m.SetSelfLink(link)
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
