package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
)

// nodeIndex indexes pods by spec.nodeName.
const nodeIndex = "node"

// Fleet runs many agents in one process (kserver sim): they share one
// client, one pod informer (every bound pod, indexed by node, so each pod
// is held once and the API serves one watch instead of one per node), one
// Node informer, one status manager and one event broadcaster. Each agent
// keeps its own runtime, workers, heartbeat and node status.
type Fleet struct {
	set    *client.Set
	log    *slog.Logger
	agents map[string]*Agent
	// StatusWorkers is how many pod status writes run at once (default 8).
	StatusWorkers int
}

// NewFleet builds a fleet of agents made with New; all must share set.
func NewFleet(set *client.Set, agents []*Agent, log *slog.Logger) (*Fleet, error) {
	f := &Fleet{set: set, log: log, agents: map[string]*Agent{}, StatusWorkers: 8}
	for _, a := range agents {
		if a.set != set {
			return nil, errors.New("fleet: every agent must use the fleet's client")
		}
		if _, dup := f.agents[a.cfg.NodeName]; dup {
			return nil, fmt.Errorf("fleet: node %s twice", a.cfg.NodeName)
		}
		f.agents[a.cfg.NodeName] = a
	}
	return f, nil
}

// Run runs every agent until ctx ends.
func (f *Fleet) Run(ctx context.Context) error {
	inf := client.NewInformers(f.set, 0)
	pods := client.InformerFor[*corev1.Pod, *corev1.PodList](inf, corev1.SchemeGroupVersion.WithResource("pods"),
		client.ListFilter{FieldSelector: "spec.nodeName!="})
	if err := pods.AddIndexers(cache.Indexers{nodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}}); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	nodes := inf.Nodes()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { f.route(obj, false) },
		UpdateFunc: func(_, obj any) { f.route(obj, false) },
		DeleteFunc: func(obj any) { f.route(obj, true) },
	}); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	_, b := client.NewRecorder(f.set, "kubelet")
	defer b.Shutdown()
	status := newStatusManager(f.set, f.log)
	go status.run(ctx, f.StatusWorkers)
	synced := func() bool { return pods.HasSynced() && nodes.HasSynced() }
	for name, a := range f.agents {
		idx, nidx := pods.GetIndexer(), nodes.GetIndexer()
		a.rec = b.NewRecorder(f.set.Scheme(), corev1.EventSource{Component: "kubelet", Host: name})
		a.status = status
		a.src = source{
			pods: func() []*corev1.Pod {
				objs, _ := idx.ByIndex(nodeIndex, name)
				return listPods(objs)
			},
			pod:    func(ns, n string) (*corev1.Pod, bool) { return getPod(idx, ns+"/"+n) },
			node:   func() (*corev1.Node, bool) { return getNode(nidx, name) },
			synced: synced,
		}
	}
	inf.Start(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, len(f.agents))
	for _, a := range f.agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.run(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// route hands a pod event to the agent of the pod's node.
func (f *Fleet) route(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a := f.agents[pod.Spec.NodeName]
	if a == nil {
		return
	}
	if deleted {
		a.workers.deleted(pod)
		return
	}
	a.workers.update(pod)
}
