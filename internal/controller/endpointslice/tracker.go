package endpointslice

import (
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// writeTracker remembers, per Service, the slices this controller last
// wrote (their resourceVersion, which kserver's API server takes from its
// store's revision and so only grows) or deleted, so that a sync can tell
// when the informer cache has not caught up with its own writes yet.
type writeTracker struct {
	mu     sync.Mutex
	byServ map[string]map[string]uint64
}

func newWriteTracker() *writeTracker { return &writeTracker{byServ: map[string]map[string]uint64{}} }

const deletedRV = 0

func (t *writeTracker) wrote(svcKey, slice string, rv uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.byServ[svcKey]
	if m == nil {
		m = map[string]uint64{}
		t.byServ[svcKey] = m
	}
	m[slice] = rv
}

// caughtUp reports whether cached (the Service's slices in the cache) shows
// every write recorded for svcKey; once it does, the records are dropped.
func (t *writeTracker) caughtUp(svcKey string, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.byServ[svcKey]
	if len(m) == 0 {
		return true
	}
	have := make(map[string]uint64, len(cached))
	for _, s := range cached {
		have[s.Name] = parseRV(s.ResourceVersion)
	}
	for name, rv := range m {
		got, ok := have[name]
		if rv == deletedRV && ok || rv != deletedRV && (!ok || got < rv) {
			return false
		}
	}
	delete(t.byServ, svcKey)
	return true
}

func (t *writeTracker) forget(svcKey string) {
	t.mu.Lock()
	delete(t.byServ, svcKey)
	t.mu.Unlock()
}
