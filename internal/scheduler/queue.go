package scheduler

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// backoffWindow is the granularity of back-off expiry: pods whose back-off
// ends in the same second are released together, in priority order, as
// upstream's SchedulerPopFromBackoffQ does.
const backoffWindow = time.Second

// unschedulableFlushInterval is how often pods that waited too long in the
// unschedulable set are retried.
const unschedulableFlushInterval = 30 * time.Second

// location is where a queued pod currently is.
type location uint8

const (
	locNone location = iota
	locActive
	locBackoff
	locErrorBackoff
	locUnschedulable
	locInFlight
)

// queuedPod is a pod waiting to be scheduled (or being scheduled).
type queuedPod struct {
	info           *podInfo
	timestamp      time.Time // when it last entered the queue
	initialAttempt time.Time
	attempts       int
	plugins        pluginSet // the filters that rejected it last time
	pending        pluginSet // while in flight: plugins an event may have unblocked
	expiry         time.Time // back-off expiry, computed once per attempt
	index          int
	loc            location
}

// errQueueClosed is returned by pop once the queue is closed.
var errQueueClosed = errors.New("scheduling queue closed")

// queue is upstream's priority queue: an active heap (highest priority,
// then oldest, first), a back-off heap for pods that failed to fit and one
// for pods that hit errors, and a set of unschedulable pods that only a
// relevant cluster event (or a 5-minute timeout) brings back.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	clock  clock.WithTicker
	closed bool

	initialBackoff, maxBackoff, maxUnschedulable time.Duration

	active, backoff, errBackoff podHeap
	unschedulable               map[types.UID]*queuedPod
	inFlight                    map[types.UID]*queuedPod
	pods                        map[types.UID]*queuedPod
}

func newQueue(clk clock.WithTicker, initialBackoff, maxBackoff, maxUnschedulable time.Duration) *queue {
	q := &queue{clock: clk, initialBackoff: initialBackoff, maxBackoff: maxBackoff, maxUnschedulable: maxUnschedulable,
		unschedulable: map[types.UID]*queuedPod{}, inFlight: map[types.UID]*queuedPod{}, pods: map[types.UID]*queuedPod{}}
	q.cond = sync.NewCond(&q.mu)
	q.active.less = activeLess
	q.backoff.less = func(a, b *queuedPod) bool {
		if !a.expiry.Equal(b.expiry) {
			return a.expiry.Before(b.expiry)
		}
		return activeLess(a, b)
	}
	q.errBackoff.less = func(a, b *queuedPod) bool { return a.expiry.Before(b.expiry) }
	return q
}

// activeLess is PrioritySort: higher priority first, then earlier arrival.
func activeLess(a, b *queuedPod) bool {
	if a.info.priority != b.info.priority {
		return a.info.priority > b.info.priority
	}
	return a.timestamp.Before(b.timestamp)
}

// add queues a new pending pod, or updates one already queued.
func (q *queue) add(pi *podInfo) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp, ok := q.pods[pi.uid]; ok {
		q.updateLocked(qp, pi)
		return
	}
	now := q.clock.Now()
	qp := &queuedPod{info: pi, timestamp: now, initialAttempt: now, index: -1}
	q.pods[pi.uid] = qp
	q.moveLocked(qp, locActive)
}

// update replaces the pod of a queued pod. An unschedulable pod whose spec
// changed is retried, as upstream does for pod updates.
func (q *queue) update(pi *podInfo, specChanged bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[pi.uid]
	if !ok {
		return
	}
	q.updateLocked(qp, pi)
	if specChanged && qp.loc == locUnschedulable {
		q.requeueLocked(qp)
	}
	if specChanged && qp.loc == locInFlight {
		qp.pending = ^pluginSet(0)
	}
}

func (q *queue) updateLocked(qp *queuedPod, pi *podInfo) {
	qp.info = pi
	switch qp.loc {
	case locActive:
		q.active.fix(qp)
	case locBackoff:
		q.backoff.fix(qp)
	}
}

// remove drops a pod (deleted, or bound by someone else).
func (q *queue) remove(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp, ok := q.pods[uid]; ok {
		q.takeLocked(qp)
		delete(q.pods, uid)
	}
}

func (q *queue) has(uid types.UID) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.pods[uid]
	return ok
}

// pop blocks until a pod is ready and returns it, marked in flight. When
// nothing is active it takes the pod whose back-off ends first rather than
// idle (upstream's SchedulerPopFromBackoffQ).
func (q *queue) pop() (*queuedPod, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && q.backoff.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, errQueueClosed
	}
	var qp *queuedPod
	if q.active.Len() > 0 {
		qp = q.active.pop()
	} else {
		qp = q.backoff.pop()
	}
	qp.loc = locInFlight
	q.inFlight[qp.info.uid] = qp
	qp.attempts++
	qp.pending = 0
	qp.expiry = time.Time{}
	return qp, nil
}

// done forgets a pod whose scheduling attempt succeeded.
func (q *queue) done(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp, ok := q.pods[uid]; ok && qp.loc == locInFlight {
		q.takeLocked(qp)
		delete(q.pods, uid)
	}
}

// unschedulableAgain puts back a pod that fitted no node. If a cluster event
// during its attempt may have changed that, it is retried after back-off;
// otherwise it waits among the unschedulable pods.
func (q *queue) unschedulableAgain(uid types.UID, plugins pluginSet) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[uid]
	if !ok || qp.loc != locInFlight {
		return
	}
	qp.plugins = plugins
	qp.timestamp = q.clock.Now()
	if qp.pending&plugins != 0 || (plugins == 0 && qp.pending != 0) {
		q.requeueLocked(qp)
		return
	}
	q.moveLocked(qp, locUnschedulable)
}

// errorAgain puts back a pod whose attempt failed with an error (binding
// refused, API down): it is retried after back-off.
func (q *queue) errorAgain(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[uid]
	if !ok || qp.loc != locInFlight {
		return
	}
	qp.plugins = 0
	qp.timestamp = q.clock.Now()
	q.moveLocked(qp, locErrorBackoff)
}

// requeueLocked moves a pod to the back-off heap, or straight to active when
// its back-off is over.
func (q *queue) requeueLocked(qp *queuedPod) {
	if q.backingOff(qp) {
		q.moveLocked(qp, locBackoff)
	} else {
		q.moveLocked(qp, locActive)
	}
}

// takeLocked removes a pod from wherever it is.
func (q *queue) takeLocked(qp *queuedPod) {
	switch qp.loc {
	case locActive:
		q.active.remove(qp)
	case locBackoff:
		q.backoff.remove(qp)
	case locErrorBackoff:
		q.errBackoff.remove(qp)
	case locUnschedulable:
		delete(q.unschedulable, qp.info.uid)
	case locInFlight:
		delete(q.inFlight, qp.info.uid)
	}
	qp.loc = locNone
}

func (q *queue) moveLocked(qp *queuedPod, to location) {
	q.takeLocked(qp)
	switch to {
	case locActive:
		q.active.push(qp)
		q.cond.Signal()
	case locBackoff:
		q.backoffExpiry(qp)
		q.backoff.push(qp)
		q.cond.Signal()
	case locErrorBackoff:
		q.backoffExpiry(qp)
		q.errBackoff.push(qp)
	case locUnschedulable:
		q.unschedulable[qp.info.uid] = qp
	}
	qp.loc = to
}

// backoffExpiry is timestamp + initial×2^(attempts-1) (capped), aligned down
// to the back-off window.
func (q *queue) backoffExpiry(qp *queuedPod) time.Time {
	if qp.attempts == 0 {
		return time.Time{}
	}
	if qp.expiry.IsZero() {
		d := q.maxBackoff
		if shift := qp.attempts - 1; shift < 32 && q.initialBackoff <= q.maxBackoff>>shift {
			d = q.initialBackoff << shift
		}
		qp.expiry = qp.timestamp.Add(d).Truncate(backoffWindow)
	}
	return qp.expiry
}

// backingOff reports whether the pod's back-off ends in the current window
// or later.
func (q *queue) backingOff(qp *queuedPod) bool {
	exp := q.backoffExpiry(qp)
	return !exp.Before(q.clock.Now().Truncate(backoffWindow))
}

// flushBackoff moves pods whose back-off ended to the active heap.
func (q *queue) flushBackoff() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, h := range []*podHeap{&q.backoff, &q.errBackoff} {
		for qp := h.peek(); qp != nil && !q.backingOff(qp); qp = h.peek() {
			q.moveLocked(qp, locActive)
		}
	}
}

// flushUnschedulable retries pods that waited longer than maxUnschedulable.
func (q *queue) flushUnschedulable() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for _, qp := range q.unschedulable {
		if now.Sub(qp.timestamp) > q.maxUnschedulable {
			q.requeueLocked(qp)
		}
	}
}

// run flushes the back-off heaps at every window boundary and the
// unschedulable set every 30 seconds until ctx ends, then closes the queue.
func (q *queue) run(ctx context.Context) {
	defer q.close()
	now := q.clock.Now()
	first := q.clock.NewTimer(now.Truncate(backoffWindow).Add(backoffWindow).Sub(now))
	select {
	case <-ctx.Done():
		first.Stop()
		return
	case <-first.C():
	}
	tick := q.clock.NewTicker(backoffWindow)
	defer tick.Stop()
	lastUnsched := q.clock.Now()
	for {
		q.flushBackoff()
		if q.clock.Since(lastUnsched) >= unschedulableFlushInterval {
			q.flushUnschedulable()
			lastUnsched = q.clock.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// counts reports how many pods are in each part of the queue (for tests
// and the debug log).
func (q *queue) counts() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len() + q.errBackoff.Len(), len(q.unschedulable)
}
