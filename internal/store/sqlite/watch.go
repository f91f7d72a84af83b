package sqlite

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"kserver.dev/kserver/internal/store"
)

// watcher is one Watch. The writer appends events to its queue (never
// blocking); the watcher's own goroutine moves them to the unbuffered Events
// channel. Memory grows only with the backlog, and a backlog above the limit
// drops the watcher with store.ErrWatcherTooSlow.
type watcher struct {
	prefix string
	after  int64 // deliver only revisions above this
	out    chan store.Event

	mu     sync.Mutex
	queue  []store.Event
	limit  int
	err    error
	kill   chan struct{} // closed when dropped
	killed bool
	wake   chan struct{} // capacity 1
}

func (w *watcher) Events() <-chan store.Event { return w.out }

func (w *watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// push queues one event; false when the watcher is (now) dropped.
func (w *watcher) push(ev *store.Event) bool {
	w.mu.Lock()
	if w.killed {
		w.mu.Unlock()
		return false
	}
	if len(w.queue) >= w.limit {
		w.mu.Unlock()
		w.drop(store.ErrWatcherTooSlow)
		return false
	}
	w.queue = append(w.queue, *ev)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

// drop ends the watcher with err (first error wins).
func (w *watcher) drop(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.killed {
		return
	}
	w.killed = true
	w.err = err
	w.queue = nil
	close(w.kill)
}

// run delivers queued events until the context ends or the watcher is
// dropped, then closes Events and unregisters.
func (w *watcher) run(ctx context.Context, s *Store) {
	defer func() {
		s.mu.Lock()
		delete(s.watchers, w)
		s.mu.Unlock()
		close(w.out)
	}()
	var batch []store.Event
	for {
		w.mu.Lock()
		batch, w.queue = w.queue, batch[:0]
		w.mu.Unlock()
		for i := range batch {
			select {
			case w.out <- batch[i]:
			case <-w.kill:
				return
			case <-ctx.Done():
				w.drop(nil)
				return
			}
		}
		clear(batch)
		select {
		case <-w.wake:
		case <-w.kill:
			return
		case <-ctx.Done():
			w.drop(nil)
			return
		}
	}
}

// fanout hands a committed event to every watcher of its prefix. Called
// with s.mu held exclusively, so registration and delivery never interleave.
func (s *Store) fanout(ev *store.Event) {
	for w := range s.watchers {
		if ev.KV.ModRevision > w.after && strings.HasPrefix(ev.KV.Key, w.prefix) {
			if !w.push(ev) {
				delete(s.watchers, w)
				s.stats.dropped.Add(1)
			}
		}
	}
}

// Watch delivers every write to keys with the prefix above fromRevision, in
// revision order. Recent revisions come from the in-memory ring; older,
// uncompacted ones are read from SQLite first (one range scan of the log),
// then the watcher joins the live stream without a gap.
func (s *Store) Watch(ctx context.Context, prefix string, fromRevision int64) (store.Watcher, error) {
	w := &watcher{
		prefix: prefix,
		after:  fromRevision,
		out:    make(chan store.Event),
		kill:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
	}
	from := fromRevision
	pending := false
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, store.ErrClosed
		}
		if from < s.compacted {
			c := s.compacted
			s.mu.Unlock()
			return nil, fmt.Errorf("watch %s from revision %d: oldest available is %d: %w", prefix, fromRevision, c, store.ErrCompacted)
		}
		if s.hist.covers(from) {
			s.hist.since(from, func(ev *store.Event) bool {
				if strings.HasPrefix(ev.KV.Key, prefix) {
					w.queue = append(w.queue, *ev)
				}
				return true
			})
			w.limit = len(w.queue) + s.cfg.WatchQueue
			// Read the backlog before registering: once registered, the
			// writer may push to (or drop) the queue concurrently.
			pending = len(w.queue) > 0
			s.watchers[w] = struct{}{}
			s.mu.Unlock()
			break
		}
		upTo := s.hist.floor
		s.mu.Unlock()
		evs, err := s.readEvents(ctx, prefix, from, upTo)
		if err != nil {
			return nil, fmt.Errorf("watch %s from revision %d: %w", prefix, fromRevision, err)
		}
		w.queue = append(w.queue, evs...)
		from = upTo
	}
	if pending {
		select {
		case w.wake <- struct{}{}:
		default: // a push already woke it
		}
	}
	go w.run(ctx, s)
	return w, nil
}
