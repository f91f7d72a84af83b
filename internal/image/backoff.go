package image

import (
	"sync"
	"time"
)

// The kubelet's image pull back-off: 10s after the first failure, doubling
// up to 5 minutes; an entry untouched for twice the maximum is forgotten.
const (
	BackOffInitial = 10 * time.Second
	BackOffMax     = 300 * time.Second
)

// BackOff tracks failed pulls per key (the kubelet keys them by pod UID and
// image: "<uid>_<image>"), with the semantics of client-go's
// flowcontrol.Backoff as the kubelet configures it (no jitter).
type BackOff struct {
	now     func() time.Time
	initial time.Duration
	max     time.Duration

	mu      sync.Mutex
	entries map[string]*backOffEntry
}

type backOffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
	lastError  string
}

// NewBackOff returns a back-off with the kubelet's durations; now may be nil.
func NewBackOff(now func() time.Time) *BackOff {
	return NewBackOffWith(now, BackOffInitial, BackOffMax)
}

// NewBackOffWith returns a back-off with other durations (tests, or the
// agent's container restart back-off, which has the same shape).
func NewBackOffWith(now func() time.Time, initial, max time.Duration) *BackOff {
	if now == nil {
		now = time.Now
	}
	return &BackOff{now: now, initial: initial, max: max, entries: map[string]*backOffEntry{}}
}

// Next records a failure for key: the first waits the initial delay, each
// next one twice the last, up to the maximum. msg is kept for the waiting
// message of the following back-off.
func (b *BackOff) Next(key, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	e, ok := b.entries[key]
	if !ok || b.expired(e, now) {
		e = &backOffEntry{delay: b.initial}
		b.entries[key] = e
	} else {
		e.delay = min(e.delay*2, b.max)
	}
	e.lastUpdate = now
	e.lastError = msg
}

// InBackOff reports whether key failed less than its delay ago, and the
// message of that failure.
func (b *BackOff) InBackOff(key string) (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return false, ""
	}
	now := b.now()
	if b.expired(e, now) {
		return false, ""
	}
	return now.Sub(e.lastUpdate) < e.delay, e.lastError
}

// Delay is the current delay of key, 0 if it has none.
func (b *BackOff) Delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[key]; ok {
		return e.delay
	}
	return 0
}

// Reset forgets key.
func (b *BackOff) Reset(key string) {
	b.mu.Lock()
	delete(b.entries, key)
	b.mu.Unlock()
}

// GC forgets every key untouched for twice the maximum delay.
func (b *BackOff) GC() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for k, e := range b.entries {
		if b.expired(e, now) {
			delete(b.entries, k)
		}
	}
}

func (b *BackOff) expired(e *backOffEntry, now time.Time) bool {
	return now.Sub(e.lastUpdate) > 2*b.max
}
