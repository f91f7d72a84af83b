package job

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

// Component is the event source name upstream uses for this controller.
const Component = "job-controller"

// Back-off of pod re-creation after failures, as upstream.
const (
	DefaultPodFailureBackOff = 10 * time.Second
	MaxPodFailureBackOff     = 6 * time.Minute
	// maxPodsPerSync bounds creations and deletions in one sync.
	maxPodsPerSync = 500
	// orphanPrefix marks queue keys of pods whose finalizer must go.
	orphanPrefix = "pod:"
)

var kind = batchv1.SchemeGroupVersion.WithKind("Job")

// Config is what the controller needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component (client.NewRecorder).
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock is the time source (nil: the real clock).
	Clock clock.Clock
	// PodFailureBackOff is the first delay before a failed pod is
	// replaced (0: DefaultPodFailureBackOff).
	PodFailureBackOff time.Duration
}

// Controller reconciles Jobs.
type Controller struct {
	set     *client.Set
	rec     record.EventRecorder
	jobInf  cache.SharedIndexInformer
	podInf  cache.SharedIndexInformer
	jobs    batchlisters.JobLister
	pods    corelisters.PodLister
	control *podcontrol.Control
	exp     *podcontrol.Expectations
	queue   loop.Queue
	clock   clock.Clock
	logger  *slog.Logger
	backoff time.Duration

	mu sync.Mutex
	// finalizers are pod UIDs per job whose finalizer removal was sent
	// but not yet seen by the informer.
	finalizers map[string]sets.Set[string]
	// failures is the back-off record per job.
	failures map[string]backoffRecord
}

// New builds the controller on cfg's informers (Jobs, Pods); it
// registers handlers and starts nothing.
func New(cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PodFailureBackOff == 0 {
		cfg.PodFailureBackOff = DefaultPodFailureBackOff
	}
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder,
		jobInf: cfg.Informers.Jobs(), podInf: cfg.Informers.Pods(),
		control: &podcontrol.Control{Set: cfg.Set, Recorder: cfg.Recorder},
		exp:     podcontrol.NewExpectations(),
		queue:   loop.NewQueue("job"), clock: cfg.Clock, backoff: cfg.PodFailureBackOff,
		logger:     cfg.Logger.With("component", Component),
		finalizers: map[string]sets.Set[string]{},
		failures:   map[string]backoffRecord{},
	}
	c.jobs = batchlisters.NewJobLister(c.jobInf.GetIndexer())
	c.pods = corelisters.NewPodLister(c.podInf.GetIndexer())
	_, _ = c.jobInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
		DeleteFunc: c.jobDeleted,
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podChanged(nil, o) },
		UpdateFunc: c.podChanged,
		DeleteFunc: c.podDeleted,
	})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "job", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.syncKey,
		Synced: []cache.InformerSynced{c.jobInf.HasSynced, c.podInf.HasSynced},
	})
}

func (c *Controller) syncKey(ctx context.Context, key string) error {
	if podKey, ok := strings.CutPrefix(key, orphanPrefix); ok {
		return c.syncOrphanPod(ctx, podKey)
	}
	return c.sync(ctx, key)
}

func podOf(o any) (*corev1.Pod, bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	p, ok := o.(*corev1.Pod)
	return p, ok
}

// jobKeyOf is the key of pod's controlling Job if it is in the cache.
func (c *Controller) jobKeyOf(pod *corev1.Pod) (string, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != kind.Kind || ref.APIVersion != kind.GroupVersion().String() {
		return "", false
	}
	j, err := c.jobs.Jobs(pod.Namespace).Get(ref.Name)
	if err != nil || j.UID != ref.UID {
		return "", false
	}
	return pod.Namespace + "/" + ref.Name, true
}

func (c *Controller) podChanged(old, cur any) {
	pod, ok := podOf(cur)
	if !ok {
		return
	}
	key, owned := c.jobKeyOf(pod)
	if !owned {
		if hasFinalizer(pod) {
			c.queue.Add(orphanPrefix + podcontrol.Key(pod))
		}
		return
	}
	if !hasFinalizer(pod) {
		c.finalizerObserved(key, string(pod.UID))
	}
	if old == nil {
		c.exp.CreationObserved(key)
	} else if op, ok := podOf(old); ok && op.DeletionTimestamp == nil && pod.DeletionTimestamp != nil {
		c.exp.DeletionObserved(key, podcontrol.Key(pod))
	}
	c.queue.Add(key)
}

func (c *Controller) podDeleted(o any) {
	pod, ok := podOf(o)
	if !ok {
		return
	}
	if key, owned := c.jobKeyOf(pod); owned {
		c.exp.DeletionObserved(key, podcontrol.Key(pod))
		c.finalizerObserved(key, string(pod.UID))
		c.queue.Add(key)
	}
}

// jobDeleted forgets the job and lets its pods' finalizers go.
func (c *Controller) jobDeleted(o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	j, ok := o.(*batchv1.Job)
	if !ok {
		return
	}
	key := j.Namespace + "/" + j.Name
	c.exp.Delete(key)
	c.mu.Lock()
	delete(c.finalizers, key)
	delete(c.failures, key)
	c.mu.Unlock()
	pods, _ := c.pods.Pods(j.Namespace).List(labels.Everything())
	for _, p := range pods {
		if metav1.IsControlledBy(p, j) && hasFinalizer(p) {
			c.queue.Add(orphanPrefix + podcontrol.Key(p))
		}
	}
}

func (c *Controller) expectFinalizersRemoved(key string, uids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.finalizers[key]
	if !ok {
		s = sets.New[string]()
		c.finalizers[key] = s
	}
	s.Insert(uids...)
}

func (c *Controller) finalizerObserved(key, uid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.finalizers[key]; ok {
		s.Delete(uid)
	}
}

func (c *Controller) pendingFinalizers(key string) sets.Set[string] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finalizers[key].Clone()
}
