package client

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// NewRecorder returns an event recorder for component (e.g.
// "deployment-controller"), writing core/v1 Events through s with client-go's
// correlator (aggregation of repeats into counts, spam filtering) exactly as
// upstream components do. Stop the returned broadcaster when done.
func NewRecorder(s *Set, component string) (record.EventRecorder, record.EventBroadcaster) {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&eventSink{set: s})
	return b.NewRecorder(s.Scheme(), corev1.EventSource{Component: component}), b
}

// eventSink writes events with a bounded time per call so a slow API never
// blocks the broadcaster for long.
type eventSink struct{ set *Set }

const eventWriteTimeout = 10 * time.Second

func (e *eventSink) Create(ev *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	return e.set.Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{})
}

func (e *eventSink) Update(ev *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	return e.set.Events(ev.Namespace).Update(ctx, ev, metav1.UpdateOptions{})
}

func (e *eventSink) Patch(old *corev1.Event, data []byte) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	return e.set.Events(old.Namespace).Patch(ctx, old.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
}

// NewBroadcaster returns one event broadcaster writing through s, on which
// several components make recorders of their own (b.NewRecorder(s.Scheme(),
// corev1.EventSource{Component: name})): one sink and one set of goroutines
// for the whole control plane instead of one per component. Shut it down
// when done.
func NewBroadcaster(s *Set) record.EventBroadcaster {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&eventSink{set: s})
	return b
}
