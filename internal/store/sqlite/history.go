package sqlite

import "kserver.dev/kserver/internal/store"

// history is the ring of the most recent events. Revisions are contiguous
// (every revision is exactly one event), so the event of revision r sits at
// a fixed offset from the oldest one: no search is needed.
//
// It holds every event with revision in (floor, floor+n]. Values are shared
// with the index, so its memory cost is the superseded values it keeps
// alive, bounded by maxBytes.
type history struct {
	buf      []store.Event
	start, n int
	floor    int64 // events above floor are all here
	bytes    int64
	maxN     int
	maxBytes int64
}

func (h *history) init(maxN int, maxBytes int64) {
	h.maxN, h.maxBytes = maxN, maxBytes
}

// eventCost estimates the memory an event keeps alive.
func eventCost(ev *store.Event) int64 {
	c := int64(len(ev.KV.Key)) + 160
	if ev.Prev != nil {
		c += int64(len(ev.Prev.Value))
	}
	return c
}

// reset empties the ring; events above floor must be read from SQLite.
func (h *history) reset(floor int64) {
	clear(h.buf)
	h.start, h.n, h.bytes, h.floor = 0, 0, 0, floor
}

// add appends the event of revision floor+n+1.
func (h *history) add(ev store.Event) {
	if h.maxN == 0 {
		h.floor = ev.KV.ModRevision
		return
	}
	if h.n == len(h.buf) {
		if len(h.buf) >= h.maxN {
			h.dropOldest()
		} else {
			h.grow()
		}
	}
	h.buf[(h.start+h.n)%len(h.buf)] = ev
	h.n++
	h.bytes += eventCost(&ev)
	for h.n > h.maxN || (h.bytes > h.maxBytes && h.n > 1) {
		h.dropOldest()
	}
}

// grow doubles the buffer up to maxN, so an idle store holds a small one.
func (h *history) grow() {
	size := max(64, 2*len(h.buf))
	size = min(size, h.maxN)
	nb := make([]store.Event, size)
	for i := range h.n {
		nb[i] = h.buf[(h.start+i)%len(h.buf)]
	}
	h.buf, h.start = nb, 0
}

func (h *history) dropOldest() {
	ev := &h.buf[h.start]
	h.bytes -= eventCost(ev)
	h.floor = ev.KV.ModRevision
	*ev = store.Event{}
	h.start = (h.start + 1) % len(h.buf)
	h.n--
}

// trim drops events at or below rev (after compaction).
func (h *history) trim(rev int64) {
	for h.n > 0 && h.buf[h.start].KV.ModRevision <= rev {
		h.dropOldest()
	}
	if h.n == 0 && h.floor < rev {
		h.floor = rev
	}
}

// covers reports whether every event above rev is in memory.
func (h *history) covers(rev int64) bool { return rev >= h.floor }

// since calls fn for each event above rev, oldest first; rev must be covered.
func (h *history) since(rev int64, fn func(*store.Event) bool) {
	first := int(max(rev-h.floor, 0))
	for i := first; i < h.n; i++ {
		if !fn(&h.buf[(h.start+i)%len(h.buf)]) {
			return
		}
	}
}

// sinceReverse is since, newest first.
func (h *history) sinceReverse(rev int64, fn func(*store.Event)) {
	first := int(max(rev-h.floor, 0))
	for i := h.n - 1; i >= first; i-- {
		fn(&h.buf[(h.start+i)%len(h.buf)])
	}
}
