package scheduler

import (
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Config configures a Scheduler. Zero fields take the defaults of
// DefaultConfig, which are upstream's.
type Config struct {
	// SchedulerName is the spec.schedulerName of the pods this scheduler
	// handles; others are ignored.
	SchedulerName string
	// PercentageOfNodesToScore bounds how many feasible nodes are looked for
	// in large clusters (0: upstream's adaptive default, 50% at 100 nodes
	// falling to 5% at 5,000, never fewer than 100 nodes).
	PercentageOfNodesToScore int32
	// PodInitialBackoff and PodMaxBackoff bound the back-off of a pod that
	// failed to schedule: initial × 2^(attempts-1), capped.
	PodInitialBackoff time.Duration
	PodMaxBackoff     time.Duration
	// PodMaxInUnschedulable is how long a pod may wait in the unschedulable
	// set before it is retried even without a relevant cluster event.
	PodMaxInUnschedulable time.Duration
	// BindWorkers is how many bindings may be in flight at once; concurrent
	// bindings let the datastore commit them in groups.
	BindWorkers int
	// Clock is the time source (a fake clock in tests).
	Clock clock.WithTicker
	// Seed seeds the tie-breaking between equally scored nodes (0: time).
	Seed int64
}

// DefaultConfig returns upstream kube-scheduler's defaults.
func DefaultConfig() Config {
	return Config{
		SchedulerName:         corev1.DefaultSchedulerName,
		PodInitialBackoff:     time.Second,
		PodMaxBackoff:         10 * time.Second,
		PodMaxInUnschedulable: 5 * time.Minute,
		BindWorkers:           64,
		Clock:                 clock.RealClock{},
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.SchedulerName == "" {
		c.SchedulerName = d.SchedulerName
	}
	if c.PodInitialBackoff == 0 {
		c.PodInitialBackoff = d.PodInitialBackoff
	}
	if c.PodMaxBackoff == 0 {
		c.PodMaxBackoff = d.PodMaxBackoff
	}
	if c.PodMaxInUnschedulable == 0 {
		c.PodMaxInUnschedulable = d.PodMaxInUnschedulable
	}
	if c.BindWorkers == 0 {
		c.BindWorkers = d.BindWorkers
	}
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano()
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.PercentageOfNodesToScore < 0 || c.PercentageOfNodesToScore > 100:
		return fmt.Errorf("percentage of nodes to score %d: must be between 0 and 100", c.PercentageOfNodesToScore)
	case c.PodInitialBackoff < 0 || c.PodMaxBackoff < 0:
		return errors.New("pod back-off must not be negative")
	case c.PodMaxBackoff != 0 && c.PodInitialBackoff > c.PodMaxBackoff:
		return fmt.Errorf("initial pod back-off %s is longer than the maximum %s", c.PodInitialBackoff, c.PodMaxBackoff)
	case c.BindWorkers < 0:
		return fmt.Errorf("bind workers %d: must not be negative", c.BindWorkers)
	}
	return nil
}
