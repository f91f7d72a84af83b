package agent

import (
	"log/slog"
	"time"
)

// startTrace times a pod's first start part by part for the debug log
// (`kserver server --debug`, message "pod start"): from the moment the
// agent's informer delivered the pod to the moment its first app
// container was started and the status handed to the status manager.
// It belongs to the worker's sync goroutine.
type startTrace struct {
	seen, last time.Time
	attrs      []any
}

func newStartTrace(now time.Time) *startTrace {
	return &startTrace{seen: now, last: now}
}

// mark records the time since the previous mark under name.
func (t *startTrace) mark(now time.Time, name string) {
	if t == nil {
		return
	}
	t.attrs = append(t.attrs, slog.Duration(name, now.Sub(t.last)))
	t.last = now
}

// markSince records a span that ran beside the others (the network
// attach while containers were created).
func (t *startTrace) markSince(start, end time.Time, name string) {
	if t == nil {
		return
	}
	t.attrs = append(t.attrs, slog.Duration(name, end.Sub(start)))
}

// log writes the trace once.
func (t *startTrace) log(log *slog.Logger, now time.Time, namespace, name string) {
	if t == nil {
		return
	}
	attrs := append([]any{"namespace", namespace, "pod", name, "total", now.Sub(t.seen)}, t.attrs...)
	log.Debug("pod start", attrs...)
}
