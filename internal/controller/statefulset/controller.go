package statefulset

import (
	"context"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the event source name upstream uses for this controller.
const Component = "statefulset-controller"

var kind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

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

// Controller reconciles StatefulSets.
type Controller struct {
	set    *client.Set
	rec    record.EventRecorder
	ssInf  cache.SharedIndexInformer
	podInf cache.SharedIndexInformer
	crInf  cache.SharedIndexInformer
	pvcInf cache.SharedIndexInformer
	sets   appslisters.StatefulSetLister
	pods   corelisters.PodLister
	revs   appslisters.ControllerRevisionLister
	pvcs   corelisters.PersistentVolumeClaimLister
	queue  loop.Queue
	clock  clock.Clock
	logger *slog.Logger
}

// New builds the controller on cfg's informers (StatefulSets, Pods,
// ControllerRevisions, PersistentVolumeClaims); it starts nothing.
func New(cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	inf := cfg.Informers
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder,
		ssInf: inf.StatefulSets(), podInf: inf.Pods(), crInf: inf.ControllerRevisions(), pvcInf: inf.PersistentVolumeClaims(),
		queue: loop.NewQueue("statefulset"), clock: cfg.Clock,
		logger: cfg.Logger.With("component", Component),
	}
	c.sets = appslisters.NewStatefulSetLister(c.ssInf.GetIndexer())
	c.pods = corelisters.NewPodLister(c.podInf.GetIndexer())
	c.revs = appslisters.NewControllerRevisionLister(c.crInf.GetIndexer())
	c.pvcs = corelisters.NewPersistentVolumeClaimLister(c.pvcInf.GetIndexer())
	_, _ = c.ssInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
		DeleteFunc: func(o any) { loop.Enqueue(c.queue, o) },
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(old, cur any) { c.podChanged(old); c.podChanged(cur) },
		DeleteFunc: c.podChanged,
	})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "statefulset", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.ssInf.HasSynced, c.podInf.HasSynced, c.crInf.HasSynced, c.pvcInf.HasSynced},
	})
}

// podChanged enqueues the set controlling a pod, or for an orphan every
// set whose selector matches it.
func (c *Controller) podChanged(o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if ref.Kind == kind.Kind {
			if s, err := c.sets.StatefulSets(pod.Namespace).Get(ref.Name); err == nil && s.UID == ref.UID {
				c.queue.Add(pod.Namespace + "/" + ref.Name)
			}
		}
		return
	}
	all, _ := c.sets.StatefulSets(pod.Namespace).List(labels.Everything())
	for _, s := range all {
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}
