package deployment

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
const Component = "deployment-controller"

var kind = appsv1.SchemeGroupVersion.WithKind("Deployment")

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

// Controller reconciles Deployments.
type Controller struct {
	set    *client.Set
	rec    record.EventRecorder
	dInf   cache.SharedIndexInformer
	rsInf  cache.SharedIndexInformer
	podInf cache.SharedIndexInformer
	ds     appslisters.DeploymentLister
	rss    appslisters.ReplicaSetLister
	pods   corelisters.PodLister
	queue  loop.Queue
	clock  clock.Clock
	logger *slog.Logger
}

// New builds the controller on cfg's informers (Deployments, ReplicaSets,
// Pods); it registers handlers and starts nothing.
func New(cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder,
		dInf: cfg.Informers.Deployments(), rsInf: cfg.Informers.ReplicaSets(), podInf: cfg.Informers.Pods(),
		queue: loop.NewQueue("deployment"), clock: cfg.Clock,
		logger: cfg.Logger.With("component", Component),
	}
	c.ds = appslisters.NewDeploymentLister(c.dInf.GetIndexer())
	c.rss = appslisters.NewReplicaSetLister(c.rsInf.GetIndexer())
	c.pods = corelisters.NewPodLister(c.podInf.GetIndexer())
	_, _ = c.dInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
		DeleteFunc: func(o any) { loop.Enqueue(c.queue, o) },
	})
	_, _ = c.rsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.replicaSetChanged,
		UpdateFunc: func(old, cur any) { c.replicaSetChanged(old); c.replicaSetChanged(cur) },
		DeleteFunc: c.replicaSetChanged,
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.podDeleted})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "deployment", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.dInf.HasSynced, c.rsInf.HasSynced, c.podInf.HasSynced},
	})
}

func unwrap[T any](o any) (T, bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	v, ok := o.(T)
	return v, ok
}

// replicaSetChanged enqueues the deployment controlling rs, or for an
// orphan every deployment whose selector matches it.
func (c *Controller) replicaSetChanged(o any) {
	rs, ok := unwrap[*appsv1.ReplicaSet](o)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if ref.Kind == kind.Kind {
			if d, err := c.ds.Deployments(rs.Namespace).Get(ref.Name); err == nil && d.UID == ref.UID {
				c.queue.Add(rs.Namespace + "/" + ref.Name)
			}
		}
		return
	}
	all, err := c.ds.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range all {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
			c.queue.Add(d.Namespace + "/" + d.Name)
		}
	}
}

// podDeleted wakes a Recreate deployment waiting for its old pods to go.
func (c *Controller) podDeleted(o any) {
	pod, ok := unwrap[*corev1.Pod](o)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rss.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if dref := metav1.GetControllerOfNoCopy(rs); dref != nil && dref.Kind == kind.Kind {
		if d, err := c.ds.Deployments(pod.Namespace).Get(dref.Name); err == nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
			c.queue.Add(pod.Namespace + "/" + d.Name)
		}
	}
}
