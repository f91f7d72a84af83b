package nodeipam

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Component is the event source upstream's range allocator uses.
const Component = "cidrAllocator"

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// Recorder writes Events as Component.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// ClusterCIDR is the range node subnets come from (--cluster-cidr).
	ClusterCIDR netip.Prefix
	// NodeMaskSize is the size of each node's subnet (0: 24 for IPv4, 64
	// for IPv6).
	NodeMaskSize int
}

// Controller assigns node pod subnets.
type Controller struct {
	set    *client.Set
	rec    record.EventRecorder
	logger *slog.Logger
	inf    cache.SharedIndexInformer
	nodes  corelisters.NodeLister
	queue  loop.Queue

	mu      sync.Mutex
	cidrs   *cidrSet
	byNode  map[string]held // subnet held by each node, by name
	waiting bool            // a node waits for a subnet to be freed
}

// held is the subnet index a node holds and the UID of that Node object:
// a node deleted and re-created under the same name is another object.
type held struct {
	index int
	uid   types.UID
}

// New builds the controller on cfg's Nodes informer.
func New(cfg Config) (*Controller, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if !cfg.ClusterCIDR.IsValid() {
		return nil, errors.New("nodeipam: a cluster cidr is required")
	}
	mask := cfg.NodeMaskSize
	if mask == 0 {
		mask = 24
		if cfg.ClusterCIDR.Addr().Is6() {
			mask = 64
		}
	}
	set, err := newCIDRSet(cfg.ClusterCIDR, mask)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		set: cfg.Set, rec: cfg.Recorder, logger: cfg.Logger.With("component", "nodeipam-controller"),
		inf: cfg.Informers.Nodes(), queue: loop.NewQueue("nodeipam"), cidrs: set, byNode: map[string]held{},
	}
	c.nodes = corelisters.NewNodeLister(c.inf.GetIndexer())
	enqueue := func(o any) { loop.Enqueue(c.queue, o) }
	_, _ = c.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	return c, nil
}

// Run reads back every node's subnet, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.inf.HasSynced) {
		return nil
	}
	c.Recover()
	return loop.Run(ctx, loop.Config{
		Name: "nodeipam", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync,
		Synced: []cache.InformerSynced{c.inf.HasSynced},
	})
}

// Recover marks the subnets the cached nodes hold as used, so none is
// given out twice after a restart. Run calls it once the cache is synced.
func (c *Controller) Recover() {
	nodes, _ := c.nodes.List(labels.Everything())
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		c.occupyLocked(n)
	}
}

// occupyLocked records the subnet a node already has; it reports whether
// the node has one in range.
func (c *Controller) occupyLocked(n *corev1.Node) bool {
	if n.Spec.PodCIDR == "" {
		return false
	}
	for _, s := range append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if i, ok := c.cidrs.index(p); ok {
			c.cidrs.occupy(i)
			c.byNode[n.Name] = held{i, n.UID}
			return true
		}
	}
	return true // a subnet from elsewhere: not ours, but the node has one
}
