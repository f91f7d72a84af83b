package sqlite

import (
	"container/heap"
	"context"
	"time"

	"kserver.dev/kserver/internal/store"
)

// ttlEntry is one key's deadline. Entries are never removed when a key is
// rewritten; an entry whose rev is no longer the key's ModRevision is stale
// and skipped when it comes due.
type ttlEntry struct {
	deadline int64 // unix ns
	rev      int64
	key      string
}

// ttlHeap orders deadlines, earliest first. Only the writer goroutine
// touches it, so expiry needs no polling query and no lock: one timer is
// armed on the earliest deadline.
type ttlHeap []ttlEntry

func (h ttlHeap) Len() int           { return len(h) }
func (h ttlHeap) Less(i, j int) bool { return h[i].deadline < h[j].deadline }
func (h ttlHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ttlHeap) Push(x any)        { *h = append(*h, x.(ttlEntry)) }
func (h *ttlHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func (h *ttlHeap) push(e ttlEntry) { heap.Push(h, e) }

// due pops the entries whose deadline has passed.
func (h *ttlHeap) due(now time.Time) []ttlEntry {
	var out []ttlEntry
	for len(*h) > 0 && (*h)[0].deadline <= now.UnixNano() {
		out = append(out, heap.Pop(h).(ttlEntry))
	}
	return out
}

// next is the earliest deadline, if any.
func (h ttlHeap) next() (time.Time, bool) {
	if len(h) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, h[0].deadline), true
}

// prune drops stale entries when they outnumber live ones, so a key
// rewritten often with a TTL does not grow the heap without bound.
func (h *ttlHeap) prune(live func(ttlEntry) bool) {
	kept := (*h)[:0]
	for _, e := range *h {
		if live(e) {
			kept = append(kept, e)
		}
	}
	clear((*h)[len(kept):])
	*h = kept
	heap.Init(h)
}

// armTTL points the one TTL timer at the earliest deadline (writer only).
// With no TTL keys no timer is armed at all.
func (s *Store) armTTL() {
	next, ok := s.w.ttl.next()
	if !ok {
		if s.w.armed {
			s.w.timer.Stop()
			s.w.armed = false
		}
		return
	}
	if s.w.armed && !next.Before(s.w.timerAt) {
		return
	}
	d := max(time.Until(next), 0)
	if s.w.timer == nil {
		s.w.timer = time.NewTimer(d)
	} else {
		s.w.timer.Reset(d)
	}
	s.w.timerAt, s.w.armed = next, true
}

// expire deletes the keys whose deadline passed, as one ordinary batch of
// deletions (each a write with its own revision and event). A key written
// again since its deadline was set is left alone: its entry is stale.
func (s *Store) expire() {
	due := s.w.ttl.due(time.Now())
	var batch []*request
	for _, e := range due {
		kv, ok := s.index.Get(store.KeyValue{Key: e.key})
		if !ok || kv.ModRevision != e.rev {
			continue
		}
		batch = append(batch, &request{ctx: context.Background(), op: opExpire, key: e.key, expect: e.rev})
		if len(batch) == s.cfg.MaxBatch {
			s.commitBatch(batch)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		s.commitBatch(batch)
	}
	s.stats.expired.Add(int64(len(due)))
	s.pruneTTL()
}

// pruneTTL drops stale deadlines once they could outnumber live ones.
func (s *Store) pruneTTL() {
	if len(s.w.ttl) > s.w.pruneAt {
		s.w.ttl.prune(func(e ttlEntry) bool {
			kv, ok := s.index.Get(store.KeyValue{Key: e.key})
			return ok && kv.ModRevision == e.rev
		})
		s.w.pruneAt = max(4096, 2*len(s.w.ttl))
	}
}
