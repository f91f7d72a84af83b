package apiserver

import (
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"kserver.dev/kserver/internal/store"
)

// decodedCache keeps recently decoded or written stored objects by key and
// revision, so that objects read again and again at the same revision —
// the namespace every create checks, the PriorityClasses, ServiceAccounts
// and LimitRanges admission looks up, quotas — are decoded once, and a
// read-modify-write right after a write (a patch after a create, a
// controller's status update after its spec update, a delete) finds the
// object without decoding it. Callers get deep copies, which cost a
// fraction of a JSON decode. A written object goes in as written: its
// in-memory form can differ from its JSON round trip only where the two
// mean the same (nil and empty lists and maps, sub-second times in
// managedFields), which every user of a decoded object already treats
// alike (semantic equality, managed fields, the stored encoding). Bounded
// in entries and in the size of what it holds; an arbitrary entry makes
// room.
type decodedCache struct {
	mu      sync.Mutex
	entries map[string]decodedEntry
	max     int
}

type decodedEntry struct {
	rev int64
	obj runtime.Object
}

const (
	decodedCacheEntries = 512
	// decodedCacheMaxBytes: larger stored values are not kept.
	decodedCacheMaxBytes = 16 << 10
)

func newDecodedCache(max int) *decodedCache {
	return &decodedCache{entries: make(map[string]decodedEntry, max), max: max}
}

// get returns a copy of the object stored under key at rev.
func (c *decodedCache) get(key string, rev int64) (runtime.Object, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || e.rev != rev {
		return nil, false
	}
	return e.obj.DeepCopyObject(), true
}

// put keeps a copy of obj as the value of key at rev.
func (c *decodedCache) put(key string, rev int64, obj runtime.Object) {
	cp := obj.DeepCopyObject()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && e.rev > rev {
		return
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = decodedEntry{rev: rev, obj: cp}
}

// written remembers an object a write just stored as the value of kv.
func (c *decodedCache) written(kv store.KeyValue, obj runtime.Object) {
	if kv.Key == "" || len(kv.Value) > decodedCacheMaxBytes {
		return
	}
	cp := obj.DeepCopyObject()
	if m, err := meta.Accessor(cp); err == nil {
		m.SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
	}
	c.put(kv.Key, kv.ModRevision, cp)
}
