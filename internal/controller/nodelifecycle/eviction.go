package nodelifecycle

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// EvictionComponent is the taint eviction controller's event source.
const EvictionComponent = "taint-eviction-controller"

// EvictionConfig is what NewTaintEviction needs.
type EvictionConfig struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as EvictionComponent.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock is the time source (nil: the real clock).
	Clock clock.Clock
}

// TaintEviction deletes pods from nodes with NoExecute taints they do not
// tolerate (long enough).
type TaintEviction struct {
	set    *client.Set
	rec    record.EventRecorder
	logger *slog.Logger
	clock  clock.Clock

	nodeInf cache.SharedIndexInformer
	podInf  cache.SharedIndexInformer
	nodes   corelisters.NodeLister
	podsL   corelisters.PodLister
	pods    podsByNode
	queue   loop.Queue

	mu sync.Mutex
	// scheduled are the pods waiting for their eviction time, with when
	// the controller first saw the taint for those whose taints carry no
	// timeAdded.
	scheduled map[string]time.Time
}

// NewTaintEviction builds the controller on cfg's informers (Nodes, Pods).
func NewTaintEviction(cfg EvictionConfig) *TaintEviction {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	e := &TaintEviction{
		set: cfg.Set, rec: cfg.Recorder, logger: cfg.Logger.With("component", EvictionComponent), clock: cfg.Clock,
		nodeInf: cfg.Informers.Nodes(), podInf: cfg.Informers.Pods(),
		queue: loop.NewQueue("tainteviction"), scheduled: map[string]time.Time{},
	}
	e.nodes = corelisters.NewNodeLister(e.nodeInf.GetIndexer())
	e.podsL = corelisters.NewPodLister(e.podInf.GetIndexer())
	e.pods = newPodsByNode(e.podInf)
	_, _ = e.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { e.podChanged(nil, o) },
		UpdateFunc: e.podChanged,
		DeleteFunc: func(o any) { loop.Enqueue(e.queue, o) },
	})
	_, _ = e.nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { e.nodeChanged(nil, o) },
		UpdateFunc: e.nodeChanged,
	})
	return e
}

// Run runs workers until ctx ends.
func (e *TaintEviction) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "tainteviction", Queue: e.queue, Workers: workers, Logger: e.logger, Sync: e.sync,
		Synced: []cache.InformerSynced{e.nodeInf.HasSynced, e.podInf.HasSynced},
	})
}

func (e *TaintEviction) podChanged(oldObj, curObj any) {
	cur, ok := curObj.(*corev1.Pod)
	if !ok || cur.Spec.NodeName == "" {
		return
	}
	if old, ok := oldObj.(*corev1.Pod); ok && old.Spec.NodeName == cur.Spec.NodeName &&
		reflect.DeepEqual(old.Spec.Tolerations, cur.Spec.Tolerations) {
		return
	}
	loop.Enqueue(e.queue, cur)
}

// nodeChanged looks at every pod of a node whose NoExecute taints changed.
func (e *TaintEviction) nodeChanged(oldObj, curObj any) {
	cur, ok := curObj.(*corev1.Node)
	if !ok {
		return
	}
	if old, ok := oldObj.(*corev1.Node); ok && reflect.DeepEqual(noExecuteTaints(old), noExecuteTaints(cur)) {
		return
	}
	for _, p := range e.pods.on(cur.Name) {
		e.queue.Add(p.Namespace + "/" + p.Name)
	}
}

func noExecuteTaints(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}
