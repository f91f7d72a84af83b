package apiserver

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/store"
)

// TestDecodedCacheKeepsRevisions: a key's older revision stays readable
// after a newer one is written (a watcher behind the writers), entries are
// copies, and the oldest entry is the one evicted.
func TestDecodedCacheKeepsRevisions(t *testing.T) {
	c := newDecodedCache(3, 1<<20)
	cm := func(v string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"v": v}}
	}
	c.written(store.KeyValue{Key: "/a", Value: []byte("{}"), ModRevision: 1}, cm("one"))
	c.put("/a", 2, 2, cm("two"))

	for rev, want := range map[int64]string{1: "one", 2: "two"} {
		got, ok := c.get("/a", rev)
		if !ok {
			t.Fatalf("revision %d not found", rev)
		}
		if v := got.(*corev1.ConfigMap).Data["v"]; v != want {
			t.Errorf("revision %d: %q, want %q", rev, v, want)
		}
		got.(*corev1.ConfigMap).Data["v"] = "changed by a caller"
	}
	if got, _ := c.get("/a", 1); got.(*corev1.ConfigMap).Data["v"] != "one" {
		t.Error("a caller's change reached the cache")
	}
	if got, _ := c.get("/a", 1); got.(*corev1.ConfigMap).ResourceVersion != "1" {
		t.Errorf("written object has resourceVersion %q, want 1", got.(*corev1.ConfigMap).ResourceVersion)
	}
	if _, ok := c.get("/a", 3); ok {
		t.Error("a revision never stored was found")
	}

	c.put("/b", 3, 2, cm("three"))
	c.put("/b", 3, 2, cm("again")) // already there: kept, no eviction
	if _, ok := c.get("/a", 1); !ok {
		t.Fatal("re-putting an entry evicted another")
	}
	for i := int64(4); i <= 5; i++ {
		c.put(fmt.Sprintf("/k%d", i), i, 2, cm("x"))
	}
	if _, ok := c.get("/a", 1); ok {
		t.Error("the oldest entry survived two insertions into a full cache")
	}
	if _, ok := c.get("/a", 2); ok {
		t.Error("the second oldest entry survived two insertions into a full cache")
	}
	if got, ok := c.get("/b", 3); !ok || got.(*corev1.ConfigMap).Data["v"] != "three" {
		t.Errorf("newer entry lost or replaced: %v %v", got, ok)
	}
	c.written(store.KeyValue{Key: "/big", Value: make([]byte, decodedCacheMaxBytes+1), ModRevision: 9}, cm("big"))
	if _, ok := c.get("/big", 9); ok {
		t.Error("a value over the size bound was kept")
	}
}

// TestDecodedCacheByteBound: the stored size of all entries stays within
// the bound, oldest out first.
func TestDecodedCacheByteBound(t *testing.T) {
	c := newDecodedCache(100, 10<<10)
	obj := &corev1.ConfigMap{}
	for i := int64(1); i <= 5; i++ {
		c.put("/k", i, 3<<10, obj)
	}
	if c.size > 10<<10 || c.n != 3 {
		t.Fatalf("%d entries of %d bytes kept, want 3 within 10 KiB", c.n, c.size)
	}
	for i := int64(1); i <= 5; i++ {
		if _, ok := c.get("/k", i); ok != (i >= 3) {
			t.Errorf("revision %d kept: %v", i, ok)
		}
	}
	c.put("/huge", 9, decodedCacheMaxBytes+1, obj)
	if _, ok := c.get("/huge", 9); ok {
		t.Error("a value over the per-entry bound was kept")
	}
}
