package agent

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Crash-loop back-off, as the kubelet's (flowcontrol.Backoff with
// backOffPeriod 10 s and MaxContainerBackOff 5 min): the first restart of a
// container is immediate, each later one waits twice as long as the one
// before, up to 5 min; an exit more than 10 min (twice the cap) after the
// last restart starts over at 10 s.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
)

type backoff struct {
	clock   clock.PassiveClock
	initial time.Duration
	max     time.Duration

	mu      sync.Mutex
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

func newBackoff(c clock.PassiveClock) *backoff {
	return &backoff{clock: c, initial: backoffInitial, max: backoffMax, entries: map[string]*backoffEntry{}}
}

// inBackOff reports whether a container that exited at exited must still
// wait, and until when.
func (b *backoff) inBackOff(key string, exited time.Time) (bool, time.Duration, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, exited) {
		return false, 0, time.Time{}
	}
	until := exited.Add(e.delay)
	return b.clock.Now().Before(until), e.delay, until
}

// next records a restart of the container that exited at exited.
func (b *backoff) next(key string, exited time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, exited) {
		e = &backoffEntry{delay: b.initial}
		b.entries[key] = e
	} else {
		e.delay = min(2*e.delay, b.max)
	}
	e.lastUpdate = b.clock.Now()
}

func (b *backoff) expired(e *backoffEntry, at time.Time) bool {
	return at.Sub(e.lastUpdate) > 2*b.max
}

// forget drops the entries of a pod's containers (keys "<uid>/…").
func (b *backoff) forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}
