package runtime

import (
	"context"
	"sync"
	"time"
)

// EventType says what happened to a container.
type EventType string

const (
	EventStarted EventType = "Started"
	EventExited  EventType = "Exited"
	EventRemoved EventType = "Removed"
)

// Event is a hint that a container changed; read its status for the facts.
type Event struct {
	Type        EventType
	ContainerID string
	SandboxID   string
	Time        time.Time
}

// Notifier fans events out to watchers for runtime implementations. Publish
// never blocks: each watcher has its own queue, drained by one goroutine
// per watcher, in which an event that is already waiting for the same
// container and type is not queued twice, so a stalled watcher costs at
// most one entry per container and event type. The zero value is ready to
// use.
type Notifier struct {
	mu       sync.Mutex
	watchers map[*watcher]struct{}
}

type watcher struct {
	mu      sync.Mutex
	queue   []Event
	pending map[eventKey]struct{}
	wake    chan struct{}
}

type eventKey struct {
	id string
	t  EventType
}

// Watch returns a channel that receives every event published after the
// call until ctx ends; then the channel is closed.
func (n *Notifier) Watch(ctx context.Context) <-chan Event {
	w := &watcher{pending: map[eventKey]struct{}{}, wake: make(chan struct{}, 1)}
	n.mu.Lock()
	if n.watchers == nil {
		n.watchers = map[*watcher]struct{}{}
	}
	n.watchers[w] = struct{}{}
	n.mu.Unlock()

	out := make(chan Event)
	go func() {
		defer close(out)
		defer func() {
			n.mu.Lock()
			delete(n.watchers, w)
			n.mu.Unlock()
		}()
		for {
			for {
				e, ok := w.pop()
				if !ok {
					break
				}
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// Publish queues e for every watcher.
func (n *Notifier) Publish(e Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for w := range n.watchers {
		w.push(e)
	}
}

func (w *watcher) push(e Event) {
	w.mu.Lock()
	k := eventKey{e.ContainerID, e.Type}
	if _, dup := w.pending[k]; !dup {
		w.pending[k] = struct{}{}
		w.queue = append(w.queue, e)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) pop() (Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return Event{}, false
	}
	e := w.queue[0]
	w.queue[0] = Event{}
	w.queue = w.queue[1:]
	if len(w.queue) == 0 {
		w.queue = nil
	}
	delete(w.pending, eventKey{e.ContainerID, e.Type})
	return e, true
}
