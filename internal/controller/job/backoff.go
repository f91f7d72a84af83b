package job

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// backoffRecord is how many pods failed since the last success and when
// the last one did: the delay before the next pod doubles with each.
type backoffRecord struct {
	failures    int32
	lastFailure time.Time
}

// remaining is how long pod creation must still wait at now.
func (r backoffRecord) remaining(now time.Time, base time.Duration) time.Duration {
	if r.failures == 0 {
		return 0
	}
	d := base
	for i := int32(1); i < r.failures && d < MaxPodFailureBackOff; i++ {
		d *= 2
	}
	d = min(d, MaxPodFailureBackOff)
	if elapsed := now.Sub(r.lastFailure); elapsed < d {
		return d - elapsed
	}
	return 0
}

// nextBackoff is key's record updated with newly finished pods: a success
// after the last failure resets it.
func (c *Controller) nextBackoff(key string, ok, failed []*corev1.Pod) backoffRecord {
	c.mu.Lock()
	r := c.failures[key]
	c.mu.Unlock()
	var lastOK time.Time
	for _, p := range ok {
		if t := finishTime(p, c.clock.Now()); t.After(lastOK) {
			lastOK = t
		}
	}
	for _, p := range failed {
		t := finishTime(p, c.clock.Now())
		if !lastOK.IsZero() && t.Before(lastOK) {
			continue
		}
		r.failures++
		if t.After(r.lastFailure) {
			r.lastFailure = t
		}
	}
	if !lastOK.IsZero() && (r.lastFailure.IsZero() || lastOK.After(r.lastFailure)) {
		r = backoffRecord{}
	}
	return r
}

func (c *Controller) storeBackoff(key string, r backoffRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures[key] = r
}

// finishTime is when pod's last container terminated, else its deletion,
// else now.
func finishTime(p *corev1.Pod, now time.Time) time.Time {
	var t time.Time
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Terminated != nil && s.State.Terminated.FinishedAt.After(t) {
			t = s.State.Terminated.FinishedAt.Time
		}
	}
	if t.IsZero() && p.DeletionTimestamp != nil {
		t = p.DeletionTimestamp.Time
	}
	if t.IsZero() {
		t = now
	}
	return t
}
