package disruption

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the event source upstream uses.
const Component = "controllermanager"

// DeletionTimeout is how long an evicted pod counts as disrupted while it
// has not been deleted yet (upstream's value).
const DeletionTimeout = 2 * time.Minute

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Clock    clock.Clock
}

// Controller keeps PodDisruptionBudget status.
type Controller struct {
	set    *client.Set
	rec    record.EventRecorder
	logger *slog.Logger
	clock  clock.Clock

	pdbInf cache.SharedIndexInformer
	podInf cache.SharedIndexInformer
	synced []cache.InformerSynced
	pdbs   policylisters.PodDisruptionBudgetLister
	pods   corelisters.PodLister
	rcs    corelisters.ReplicationControllerLister
	rss    appslisters.ReplicaSetLister
	ds     appslisters.DeploymentLister
	sss    appslisters.StatefulSetLister
	queue  loop.Queue
}

// New builds the controller on cfg's informers (PodDisruptionBudgets,
// Pods, and the scalable controllers: ReplicationControllers,
// ReplicaSets, Deployments, StatefulSets).
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	f := cfg.Informers
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder, logger: cfg.Logger.With("component", "disruption-controller"), clock: cfg.Clock,
		pdbInf: f.PodDisruptionBudgets(), podInf: f.Pods(), queue: loop.NewQueue("disruption"),
	}
	c.pdbs = policylisters.NewPodDisruptionBudgetLister(c.pdbInf.GetIndexer())
	c.pods = corelisters.NewPodLister(c.podInf.GetIndexer())
	c.rcs = corelisters.NewReplicationControllerLister(f.ReplicationControllers().GetIndexer())
	c.rss = appslisters.NewReplicaSetLister(f.ReplicaSets().GetIndexer())
	c.ds = appslisters.NewDeploymentLister(f.Deployments().GetIndexer())
	c.sss = appslisters.NewStatefulSetLister(f.StatefulSets().GetIndexer())
	c.synced = []cache.InformerSynced{c.pdbInf.HasSynced, c.podInf.HasSynced, f.ReplicationControllers().HasSynced,
		f.ReplicaSets().HasSynced, f.Deployments().HasSynced, f.StatefulSets().HasSynced}
	enqueue := func(o any) { loop.Enqueue(c.queue, o) }
	_, _ = c.pdbInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	_, _ = c.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged,
		UpdateFunc: func(old, cur any) {
			c.podChanged(cur)
			if o, ok := old.(*corev1.Pod); ok && !labels.Equals(o.Labels, cur.(*corev1.Pod).Labels) {
				c.podChanged(old)
			}
		},
		DeleteFunc: c.podChanged,
	})
	return c
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "disruption", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync, Synced: c.synced,
	})
}

// podChanged enqueues the budgets selecting a pod.
func (c *Controller) podChanged(o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	pdbs, err := c.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, pdb := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(pdb.Namespace + "/" + pdb.Name)
		}
	}
}
