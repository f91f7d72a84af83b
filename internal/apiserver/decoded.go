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
// object without decoding it. Entries are per revision, not per key: a
// watcher a few events behind the writers (the scheduler's informer seeing
// a pod's creation after its binding was written) still finds the object
// at the revision of its event. Callers get deep copies, which cost a
// fraction of a JSON decode. A written object goes in as written: its
// in-memory form can differ from its JSON round trip only where the two
// mean the same (nil and empty lists and maps, sub-second times in
// managedFields), which every user of a decoded object already treats
// alike (semantic equality, managed fields, the stored encoding). Bounded
// in entries, in the stored size of each and in the stored size of all;
// the oldest entries make room.
type decodedCache struct {
	mu       sync.Mutex
	entries  map[decodedKey]decodedEntry
	ring     []decodedKey // insertion order, oldest at head
	head, n  int
	size     int // stored bytes of the entries
	maxBytes int
}

type decodedEntry struct {
	obj  runtime.Object
	size int
}

type decodedKey struct {
	key string
	rev int64
}

const (
	// decodedCacheEntries serves watchers a few hundred events behind the
	// writers; decodedCacheTotalBytes bounds what the entries hold (about
	// three times their stored size once decoded). A watcher thousands of
	// events behind decodes: holding that many decoded objects would cost
	// more memory, and GC work on the busy server, than it saves.
	decodedCacheEntries    = 512
	decodedCacheTotalBytes = 2 << 20
	// decodedCacheMaxBytes: larger stored values are not kept.
	decodedCacheMaxBytes = 16 << 10
)

func newDecodedCache(entries, totalBytes int) *decodedCache {
	return &decodedCache{entries: make(map[decodedKey]decodedEntry), ring: make([]decodedKey, entries), maxBytes: totalBytes}
}

// get returns a copy of the object stored under key at rev.
func (c *decodedCache) get(key string, rev int64) (runtime.Object, bool) {
	c.mu.Lock()
	e, ok := c.entries[decodedKey{key, rev}]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return e.obj.DeepCopyObject(), true
}

// put keeps a copy of obj, decoded from size stored bytes, as the value of
// key at rev.
func (c *decodedCache) put(key string, rev int64, size int, obj runtime.Object) {
	if size > decodedCacheMaxBytes {
		return
	}
	c.keep(decodedKey{key, rev}, decodedEntry{obj: obj.DeepCopyObject(), size: size})
}

// keep stores e, whose object the cache owns from now on.
func (c *decodedCache) keep(k decodedKey, e decodedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	for c.n > 0 && (c.n == len(c.ring) || c.size+e.size > c.maxBytes) {
		old := c.ring[c.head]
		c.size -= c.entries[old].size
		delete(c.entries, old)
		c.head = (c.head + 1) % len(c.ring)
		c.n--
	}
	c.ring[(c.head+c.n)%len(c.ring)] = k
	c.n++
	c.size += e.size
	c.entries[k] = e
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
	c.keep(decodedKey{kv.Key, kv.ModRevision}, decodedEntry{obj: cp, size: len(kv.Value)})
}
