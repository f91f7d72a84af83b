package storetest

import (
	"slices"
	"strings"

	"kserver.dev/kserver/internal/store"
)

// model is the reference the backend is compared with: every event ever
// written, from which the state at any revision follows.
type model struct {
	events []store.Event // events[i] has revision i+1
}

func (m *model) record(t tHelper, ev store.Event) {
	t.Helper()
	if want := int64(len(m.events) + 1); ev.KV.ModRevision != want {
		t.Fatalf("write got revision %d, want %d (one more than the last)", ev.KV.ModRevision, want)
	}
	m.events = append(m.events, ev)
}

type tHelper interface {
	Helper()
	Fatalf(format string, args ...any)
}

// at is the state at rev: key → KeyValue.
func (m *model) at(rev int64) map[string]store.KeyValue {
	st := map[string]store.KeyValue{}
	for _, ev := range m.events[:rev] {
		if ev.Type == store.EventDelete {
			delete(st, ev.KV.Key)
		} else {
			st[ev.KV.Key] = ev.KV
		}
	}
	return st
}

// list is the sorted state at rev under prefix.
func (m *model) list(prefix string, rev int64) []store.KeyValue {
	var out []store.KeyValue
	for k, kv := range m.at(rev) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, kv)
		}
	}
	slices.SortFunc(out, func(a, b store.KeyValue) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// since is the events under prefix above rev.
func (m *model) since(prefix string, rev int64) []store.Event {
	var out []store.Event
	for _, ev := range m.events[rev:] {
		if strings.HasPrefix(ev.KV.Key, prefix) {
			out = append(out, ev)
		}
	}
	return out
}
