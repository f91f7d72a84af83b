package cronjob

import (
	"context"
	"log/slog"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the event source name upstream uses for this controller.
const Component = "cronjob-controller"

var kind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Config is what the controller needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component (client.NewRecorder).
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock is the time source (nil: the real clock).
	Clock clock.Clock
}

// Controller reconciles CronJobs.
type Controller struct {
	set    *client.Set
	rec    record.EventRecorder
	cjInf  cache.SharedIndexInformer
	jobInf cache.SharedIndexInformer
	cjs    batchlisters.CronJobLister
	jobs   batchlisters.JobLister
	queue  loop.Queue
	clock  clock.Clock
	logger *slog.Logger
}

// New builds the controller on cfg's informers (CronJobs, Jobs); it
// registers handlers and starts nothing.
func New(cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder,
		cjInf: cfg.Informers.CronJobs(), jobInf: cfg.Informers.Jobs(),
		queue: loop.NewQueue("cronjob"), clock: cfg.Clock,
		logger: cfg.Logger.With("component", Component),
	}
	c.cjs = batchlisters.NewCronJobLister(c.cjInf.GetIndexer())
	c.jobs = batchlisters.NewJobLister(c.jobInf.GetIndexer())
	_, _ = c.cjInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
		DeleteFunc: func(o any) { loop.Enqueue(c.queue, o) },
	})
	_, _ = c.jobInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobChanged,
		UpdateFunc: func(_, o any) { c.jobChanged(o) },
		DeleteFunc: c.jobChanged,
	})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "cronjob", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.cjInf.HasSynced, c.jobInf.HasSynced},
	})
}

// jobChanged enqueues the CronJob controlling a job.
func (c *Controller) jobChanged(o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	j, ok := o.(*batchv1.Job)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(j)
	if ref == nil || ref.Kind != kind.Kind {
		return
	}
	if cj, err := c.cjs.CronJobs(j.Namespace).Get(ref.Name); err == nil && cj.UID == ref.UID {
		c.queue.Add(j.Namespace + "/" + ref.Name)
	}
}
