package sqlite

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"kserver.dev/kserver/internal/store"
)

// continueToken pins a paged listing: its revision and the first key of
// the next page.
type continueToken struct {
	Rev   int64  `json:"rev"`
	Start string `json:"start"`
}

func encodeContinue(rev int64, start string) string {
	b, _ := json.Marshal(continueToken{Rev: rev, Start: start})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(tok, prefix string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Rev <= 0 || !strings.HasPrefix(t.Start, prefix) {
		return t, fmt.Errorf("list %s: %w", prefix, store.ErrInvalidContinue)
	}
	return t, nil
}

// List returns a page of the keys with the prefix, in key order, as of one
// revision. The current revision is read straight from the index. An older
// revision (explicit, or pinned by a continue token) is rebuilt from the
// index by undoing the events after it: from the in-memory ring when it
// reaches back that far, otherwise with the older part read from SQLite.
// Either way the cost is one pass over the prefix plus the events since the
// revision; no MVCC copy of the data is kept.
func (s *Store) List(ctx context.Context, prefix string, opts store.ListOptions) (store.ListResult, error) {
	rev, start := opts.Revision, prefix
	if opts.Continue != "" {
		t, err := decodeContinue(opts.Continue, prefix)
		if err != nil {
			return store.ListResult{}, err
		}
		if rev != 0 && rev != t.Rev {
			return store.ListResult{}, fmt.Errorf("list %s: revision %d differs from the continue token's %d: %w", prefix, rev, t.Rev, store.ErrInvalidContinue)
		}
		rev, start = t.Rev, t.Start
	}
	if opts.Limit < 0 {
		return store.ListResult{}, fmt.Errorf("list %s: negative limit %d", prefix, opts.Limit)
	}
	// When rev is older than the ring, the events in (rev, readTo] are read
	// from SQLite into older, and the ring supplies the rest.
	var older []store.Event
	readTo := rev
	for {
		s.mu.RLock()
		cur := s.rev.Load()
		switch {
		case s.closed:
			s.mu.RUnlock()
			return store.ListResult{}, store.ErrClosed
		case rev == 0 || rev == cur:
			res := s.page(prefix, start, cur, opts.Limit, nil)
			s.mu.RUnlock()
			return res, nil
		case rev > cur:
			s.mu.RUnlock()
			return store.ListResult{}, fmt.Errorf("list %s at revision %d: current is %d: %w", prefix, rev, cur, store.ErrFutureRevision)
		case rev < s.compacted:
			c := s.compacted
			s.mu.RUnlock()
			return store.ListResult{}, fmt.Errorf("list %s at revision %d: oldest available is %d: %w", prefix, rev, c, store.ErrCompacted)
		}
		if s.hist.covers(readTo) {
			res := s.page(prefix, start, rev, opts.Limit, s.undo(prefix, start, rev, readTo, older))
			s.mu.RUnlock()
			return res, nil
		}
		floor := s.hist.floor
		s.mu.RUnlock()
		evs, err := s.readEvents(ctx, prefix, readTo, floor)
		if err != nil {
			return store.ListResult{}, fmt.Errorf("list %s at revision %d: %w", prefix, rev, err)
		}
		older = append(older, evs...)
		readTo = floor
	}
}

// undo computes, for every key with the prefix (at or after start) written
// after rev, its value at rev (nil: absent then), from the events in
// (rev, readTo] in older and the ring's events after readTo. The caller
// holds s.mu.
func (s *Store) undo(prefix, start string, rev, readTo int64, older []store.Event) map[string]*store.KeyValue {
	at := map[string]*store.KeyValue{}
	note := func(ev *store.Event) {
		if ev.KV.ModRevision <= rev || ev.KV.Key < start || !strings.HasPrefix(ev.KV.Key, prefix) {
			return
		}
		at[ev.KV.Key] = ev.Prev // the oldest event after rev wins: visited last
	}
	s.hist.sinceReverse(readTo, note)
	for i := len(older) - 1; i >= 0; i-- {
		note(&older[i])
	}
	return at
}

// page collects up to limit keys from start on, merging the current index
// with the keys whose value at the listed revision differs (changed). It
// also counts the keys after the page. The caller holds s.mu.
func (s *Store) page(prefix, start string, rev, limit int64, changed map[string]*store.KeyValue) store.ListResult {
	res := store.ListResult{Revision: rev}
	keys := make([]string, 0, len(changed))
	for k := range changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var last string
	emit := func(kv store.KeyValue) {
		if limit == 0 || int64(len(res.KVs)) < limit {
			res.KVs = append(res.KVs, kv)
			last = kv.Key
		} else {
			res.Remaining++
		}
	}
	// Merge the sorted changed keys into the index walk.
	flushBefore := func(key string, inclusive bool) {
		for len(keys) > 0 && (keys[0] < key || inclusive && keys[0] == key) {
			if kv := changed[keys[0]]; kv != nil {
				emit(*kv)
			}
			keys = keys[1:]
		}
	}
	s.ascend(prefix, start, func(kv store.KeyValue) bool {
		flushBefore(kv.Key, false)
		if len(keys) > 0 && keys[0] == kv.Key {
			flushBefore(kv.Key, true) // changed since rev: its value then
			return true
		}
		emit(kv)
		return true
	})
	for len(keys) > 0 { // keys above every index key
		flushBefore(keys[0], true)
	}
	if res.Remaining > 0 {
		res.Continue = encodeContinue(rev, last+"\x00")
	}
	return res
}
