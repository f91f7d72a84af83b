package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/dns/resolvconf"
	"kserver.dev/kserver/internal/runtime"
)

// Agent is one node's agent. New builds it; Run runs it until ctx ends.
type Agent struct {
	cfg   Config
	set   *client.Set
	parts Parts
	log   *slog.Logger
	clock clock.WithTickerAndDelayedExecution

	rec         record.EventRecorder
	runtimeInfo runtime.Info // read once at start

	nodes   *nodeStatus
	lease   *leaseKeeper
	workers *podWorkers
	status  *statusManager
	backoff *backoff
	src     source
	objects *objectCache
	tokens  *tokenCache
	static  *staticPods // nil without Config.StaticPodDir

	hostDNSOnce sync.Once
	hostDNS     *resolvconf.Config
	// nodeChanged is signalled when the Node object changed (pod CIDRs).
	nodeChanged chan struct{}
}

// source is where an agent reads its pods and its Node: its own informers
// (Run) or a fleet's shared ones.
type source struct {
	pods     func() []*corev1.Pod                             // pods bound to the node
	pod      func(namespace, name string) (*corev1.Pod, bool) // one of them
	node     func() (*corev1.Node, bool)
	services func() []*corev1.Service // every Service (environment variables); nil: none
	synced   func() bool
}

// New builds an agent for cfg that reaches the API through set and runs
// pods with parts. It starts nothing.
func New(cfg Config, set *client.Set, parts Parts) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if set == nil || parts.Runtime == nil {
		return nil, errors.New("agent: a client and a runtime are required")
	}
	a := &Agent{cfg: cfg, set: set, clock: cfg.Clock,
		log: cfg.Logger.With("component", "agent", "node", cfg.NodeName)}
	if parts.Images == nil {
		parts.Images = NewSimImages(cfg.Clock)
	}
	if parts.Network == nil {
		parts.Network = NewSimNetwork(a.podCIDR)
	}
	a.parts = parts
	a.objects = newObjectCache(set, func(uid types.UID) { a.workers.enqueueUID(uid) })
	a.tokens = newTokenCache(set, cfg.Clock.Now)
	a.nodeChanged = make(chan struct{}, 1)
	if cfg.StaticPodDir != "" {
		a.static = newStaticPods(a, cfg.StaticPodDir)
	}
	m := simMachine(cfg.NodeName, cfg.Capacity)
	if !cfg.Simulated {
		m = hostMachine(cfg.DataDir, cfg.Capacity)
	}
	a.nodes = &nodeStatus{a: a, machine: m}
	a.lease = &leaseKeeper{a: a}
	a.backoff = newBackoff(cfg.Clock)
	a.workers = newPodWorkers(a)
	return a, nil
}

// Run runs the agent with informers of its own: the pods bound to the
// node (field selector spec.nodeName) and its Node object.
func (a *Agent) Run(ctx context.Context) error {
	inf := client.NewInformers(a.set, 0)
	pods := client.InformerFor[*corev1.Pod, *corev1.PodList](inf, corev1.SchemeGroupVersion.WithResource("pods"),
		client.ListFilter{FieldSelector: "spec.nodeName=" + a.cfg.NodeName})
	nodes := client.InformerFor[*corev1.Node, *corev1.NodeList](inf, corev1.SchemeGroupVersion.WithResource("nodes"),
		client.ListFilter{FieldSelector: "metadata.name=" + a.cfg.NodeName})
	if _, err := pods.AddEventHandler(a.podHandler()); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if _, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { a.signalNode() },
		UpdateFunc: func(old, cur any) { a.nodeUpdated(old, cur) },
	}); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.src = source{
		pods: func() []*corev1.Pod { return listPods(pods.GetIndexer().List()) },
		pod:  func(ns, name string) (*corev1.Pod, bool) { return getPod(pods.GetIndexer(), ns+"/"+name) },
		node: func() (*corev1.Node, bool) { return getNode(nodes.GetIndexer(), a.cfg.NodeName) },
		synced: func() bool {
			return pods.HasSynced() && nodes.HasSynced()
		},
	}
	if !a.cfg.Simulated {
		services := inf.Services()
		a.src.services = func() []*corev1.Service { return listServices(services.GetIndexer().List()) }
		synced := a.src.synced
		a.src.synced = func() bool { return synced() && services.HasSynced() }
	}
	_, b := client.NewRecorder(a.set, "kubelet")
	defer b.Shutdown()
	a.rec = b.NewRecorder(a.set.Scheme(), corev1.EventSource{Component: "kubelet", Host: a.cfg.NodeName})
	a.status = newStatusManager(a.set, a.log)
	// As many writers as a simulated fleet's: with two, the statuses of
	// a burst of pod starts wait for one another's round trips, while the
	// store commits concurrent writes in one batch.
	go a.status.run(ctx, statusWriters)
	inf.Start(ctx)
	return a.run(ctx)
}

// statusWriters is how many pod status writes a node's agent runs at once.
const statusWriters = 8

// podHandler feeds informer events to the pod workers.
func (a *Agent) podHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podChanged(obj) },
		UpdateFunc: func(_, obj any) { a.podChanged(obj) },
		DeleteFunc: func(obj any) { a.podDeleted(obj) },
	}
}

func (a *Agent) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != a.cfg.NodeName {
		return
	}
	if isMirrorPod(pod) { // its static pod runs from the manifest
		if a.static != nil {
			a.static.mirrorChanged(pod)
		}
		return
	}
	a.workers.update(pod)
}

func (a *Agent) podDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if isMirrorPod(pod) {
		if a.static != nil {
			a.static.mirrorChanged(pod)
		}
		return
	}
	a.workers.deleted(pod)
}

func (a *Agent) getNode() (*corev1.Node, bool) {
	if a.src.node == nil {
		return nil, false
	}
	return a.src.node()
}

// run is the agent's life once its sources are set: node registration,
// heartbeats, node status, and the pod workers.
func (a *Agent) run(ctx context.Context) error {
	a.log.Info("starting node agent", "runtime", a.runtimeName())
	if err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		info, err := a.parts.Runtime.Info(ctx)
		if err != nil {
			a.log.Warn("container runtime not answering; retrying", "err", err)
			return false, nil
		}
		a.runtimeInfo = info
		return true, nil
	}); err != nil {
		return nil // ctx ended
	}
	a.rec.Event(a.nodeRef(), corev1.EventTypeNormal, reasonStarting, "Starting kubelet.")
	var node *corev1.Node
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		if node, err = a.register(ctx); err != nil {
			a.log.Warn("node registration failed; retrying", "err", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return nil
	}
	if err := a.lease.renew(ctx, node); err != nil {
		a.log.Warn("node lease", "err", err)
	}
	if !cache.WaitForCacheSync(ctx.Done(), a.src.synced) {
		return nil
	}
	a.objects.start(ctx)
	a.configureNetwork(ctx)
	if err := a.cleanupLeftovers(ctx); err != nil {
		a.log.Warn("cleanup of what an earlier run left", "err", err)
	}
	if a.static != nil {
		a.static.load()
	}
	if err := a.workers.start(ctx); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	go a.watchRuntime(ctx)
	if a.static != nil {
		go a.static.run(ctx)
	}
	// The pod network may have been configured above, after registration
	// wrote the node NotReady: say Ready now rather than at the next
	// status interval.
	a.syncNodeStatus(ctx)
	a.heartbeat(ctx, node)
	a.workers.stop()
	a.log.Info("node agent stopped")
	return nil
}

func (a *Agent) runtimeName() string {
	if a.runtimeInfo.Name != "" {
		return a.runtimeInfo.Name
	}
	return fmt.Sprintf("%T", a.parts.Runtime)
}

// heartbeat renews the lease and syncs the node status on their
// intervals until ctx ends.
func (a *Agent) heartbeat(ctx context.Context, node *corev1.Node) {
	leaseTick := a.clock.NewTicker(a.cfg.LeaseRenewInterval)
	defer leaseTick.Stop()
	statusTick := a.clock.NewTicker(a.cfg.StatusUpdateInterval)
	defer statusTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-leaseTick.C():
			if cur, ok := a.getNode(); ok {
				node = cur
			}
			if err := a.lease.renew(ctx, node); err != nil && ctx.Err() == nil {
				a.log.Warn("node lease", "err", err)
			}
		case <-statusTick.C():
			a.configureNetwork(ctx)
			a.syncNodeStatus(ctx)
		case <-a.nodeChanged:
			if a.configureNetwork(ctx) {
				a.syncNodeStatus(ctx)
			}
		}
	}
}

// syncNodeStatus writes the node status if needed; a node that was
// deleted is registered again.
func (a *Agent) syncNodeStatus(ctx context.Context) {
	cur, ok := a.getNode()
	if !ok {
		if a.src.synced() {
			if _, err := a.register(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("node re-registration failed", "err", err)
			}
		}
		return
	}
	if err := a.nodes.sync(ctx, cur); err != nil && ctx.Err() == nil {
		a.log.Warn("node status", "err", err)
	}
}

// watchRuntime turns runtime events into pod worker syncs.
func (a *Agent) watchRuntime(ctx context.Context) {
	for ev := range a.parts.Runtime.Watch(ctx) {
		a.workers.sandboxChanged(ev.SandboxID)
	}
}

func listPods(objs []any) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

func getPod(idx cache.Indexer, key string) (*corev1.Pod, bool) {
	o, ok, err := idx.GetByKey(key)
	if err != nil || !ok {
		return nil, false
	}
	p, ok := o.(*corev1.Pod)
	return p, ok
}

func listServices(objs []any) []*corev1.Service {
	out := make([]*corev1.Service, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*corev1.Service); ok {
			out = append(out, s)
		}
	}
	return out
}

func getNode(idx cache.Indexer, name string) (*corev1.Node, bool) {
	o, ok, err := idx.GetByKey(name)
	if err != nil || !ok {
		return nil, false
	}
	n, ok := o.(*corev1.Node)
	return n, ok
}
