package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/client"
)

// Scheduler is kserver's default-scheduler.
type Scheduler struct {
	cfg       Config
	logger    *slog.Logger
	api       writer
	informers *client.Informers
	recorder  record.EventRecorder

	queue      *queue
	cache      *cache
	algo       *algorithm
	listers    *listers
	priorities *priorities
	binds      chan bindJob
	async      sync.WaitGroup // background evictions
}

// New builds a scheduler that reads the cluster through informers (shared
// with other components), writes bindings, pod status and preemptions
// through clients, and records Events with recorder (whose source should be
// the scheduler's name, "default-scheduler"). It starts nothing; Run does.
func New(cfg Config, clients *client.Set, informers *client.Informers, recorder record.EventRecorder, logger *slog.Logger) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	if clients == nil || informers == nil || recorder == nil {
		return nil, errors.New("scheduler: clients, informers and recorder are required")
	}
	if logger == nil {
		logger = slog.Default()
	}
	cfg = cfg.withDefaults()
	l := &listers{
		pods:       corelisters.NewPodLister(informers.Pods().GetIndexer()),
		namespaces: corelisters.NewNamespaceLister(informers.Namespaces().GetIndexer()),
		services:   corelisters.NewServiceLister(informers.Services().GetIndexer()),
		rcs:        corelisters.NewReplicationControllerLister(informers.ReplicationControllers().GetIndexer()),
		rss:        appslisters.NewReplicaSetLister(informers.ReplicaSets().GetIndexer()),
		sss:        appslisters.NewStatefulSetLister(informers.StatefulSets().GetIndexer()),
		pdbs:       policylisters.NewPodDisruptionBudgetLister(informers.PodDisruptionBudgets().GetIndexer()),
		pcs:        schedulinglisters.NewPriorityClassLister(informers.PriorityClasses().GetIndexer()),
		pvcs:       corelisters.NewPersistentVolumeClaimLister(informers.PersistentVolumeClaims().GetIndexer()),
		pvs:        corelisters.NewPersistentVolumeLister(informers.PersistentVolumes().GetIndexer()),
		scs:        storagelisters.NewStorageClassLister(informers.StorageClasses().GetIndexer()),
	}
	s := newScheduler(cfg, clientWriter{clients}, l, logger)
	s.informers, s.recorder = informers, recorder
	return s, nil
}

// newScheduler wires the parts; tests give it fakes.
func newScheduler(cfg Config, api writer, l *listers, logger *slog.Logger) *Scheduler {
	c := newCache()
	s := &Scheduler{
		cfg:        cfg,
		logger:     logger.With("component", "scheduler"),
		api:        api,
		queue:      newQueue(cfg.Clock, cfg.PodInitialBackoff, cfg.PodMaxBackoff, cfg.PodMaxInUnschedulable),
		cache:      c,
		listers:    l,
		priorities: &priorities{dirty: true},
		binds:      make(chan bindJob, cfg.BindWorkers*4),
	}
	s.algo = &algorithm{cache: c, rand: rand.New(rand.NewSource(cfg.Seed)), percent: cfg.PercentageOfNodesToScore}
	if l != nil {
		s.priorities.lister = l.pcs
		s.algo.volumes = volumeListers{l}
		s.algo.spreading = l.defaultSpreadSelector
		s.algo.nsLabels = namespaceLabels(l.namespaces.Get)
	} else {
		s.algo.nsLabels = func(string) labels.Set { return nil }
	}
	return s
}

// Run schedules pods until ctx ends: it registers the informer handlers,
// starts the informers (those not yet started), waits for their caches,
// then runs the queue's back-off flusher, the binders and the scheduling
// loop.
func (s *Scheduler) Run(ctx context.Context) error {
	if err := s.registerHandlers(); err != nil {
		return err
	}
	s.informers.Start(ctx)
	if !s.informers.WaitForCacheSync(ctx) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("scheduler: informer caches did not sync")
	}
	s.logger.Info("scheduler started", "name", s.cfg.SchedulerName)
	s.run(ctx)
	return nil
}

// run is Run after the caches synced.
func (s *Scheduler) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.queue.run(ctx) }()
	for range s.cfg.BindWorkers {
		wg.Add(1)
		go func() { defer wg.Done(); s.binder(ctx) }()
	}
	for {
		qp, err := s.queue.pop()
		if err != nil {
			break
		}
		s.scheduleOne(ctx, qp)
	}
	close(s.binds)
	wg.Wait()
	s.async.Wait()
}

// registerHandlers connects the informers to the cache and the queue.
func (s *Scheduler) registerHandlers() error {
	f := s.informers
	handlers := []struct {
		inf toolscache.SharedIndexInformer
		h   toolscache.ResourceEventHandler
	}{
		{f.Nodes(), toolscache.ResourceEventHandlerFuncs{AddFunc: s.onNodeAdd, UpdateFunc: s.onNodeUpdate, DeleteFunc: s.onNodeDelete}},
		{f.Pods(), toolscache.ResourceEventHandlerFuncs{AddFunc: s.onPodAdd, UpdateFunc: s.onPodUpdate, DeleteFunc: s.onPodDelete}},
		{f.PersistentVolumes(), s.eventOnly(eventVolumeChange)},
		{f.PersistentVolumeClaims(), s.eventOnly(eventVolumeChange)},
		{f.StorageClasses(), s.eventOnly(eventVolumeChange)},
		{f.Namespaces(), toolscache.ResourceEventHandlerFuncs{UpdateFunc: s.onNamespaceUpdate}},
		{f.PriorityClasses(), toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { s.priorities.invalidate() },
			UpdateFunc: func(any, any) { s.priorities.invalidate() },
			DeleteFunc: func(any) { s.priorities.invalidate() },
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return fmt.Errorf("scheduler: add event handler: %w", err)
		}
	}
	// Listers only: services, controllers and budgets.
	_ = f.Services()
	_ = f.ReplicationControllers()
	_ = f.ReplicaSets()
	_ = f.StatefulSets()
	_ = f.PodDisruptionBudgets()
	return nil
}

func (s *Scheduler) eventOnly(kind eventKind) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.queue.onEvent(clusterEvent{kind: kind}) },
		UpdateFunc: func(any, any) { s.queue.onEvent(clusterEvent{kind: kind}) },
	}
}

// responsible reports whether this scheduler schedules the pod.
func (s *Scheduler) responsible(pod *corev1.Pod) bool {
	return pod.Spec.SchedulerName == s.cfg.SchedulerName
}
