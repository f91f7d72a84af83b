package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
)

// identity names an object: what an owner reference says of it.
type identity struct {
	APIVersion, Kind string
	Namespace, Name  string
	UID              types.UID
}

func (id identity) groupKind() schema.GroupKind {
	gv, _ := schema.ParseGroupVersion(id.APIVersion)
	return schema.GroupKind{Group: gv.Group, Kind: id.Kind}
}

// node is an object taking part in ownership: it has owners, is named as
// one, or is being deleted with a deletion finalizer.
type node struct {
	id     identity
	owners []metav1.OwnerReference
	// dependents are the nodes naming this one as an owner.
	dependents map[*node]struct{}
	// virtual: known only from a dependent's owner reference, not (yet)
	// observed; its existence is checked by attemptToDelete.
	virtual            bool
	deleting           bool
	deletingDependents bool // deleting with the foregroundDeletion finalizer
}

// blocking reports whether dependent d's reference to n blocks n's
// foreground deletion.
func (n *node) blockedBy(d *node) bool {
	for _, r := range d.owners {
		if r.UID == n.id.UID {
			return r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion
		}
	}
	return false
}

// graph is the ownership graph; only the graph builder changes it, workers
// read it.
type graph struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
}

func newGraph() *graph { return &graph{nodes: map[types.UID]*node{}} }

func (g *graph) get(uid types.UID) *node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes[uid]
}

// dependentsOf returns a snapshot of n's dependents with their owner
// references.
func (g *graph) dependentsOf(n *node) []*node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*node, 0, len(n.dependents))
	for d := range n.dependents {
		out = append(out, d)
	}
	return out
}

// eventType is what happened to an object.
type eventType int

const (
	eventAdded eventType = iota
	eventUpdated
	eventDeleted
	// eventReplaced ends a relist of one resource: nodes of that kind not
	// in present have gone.
	eventReplaced
)

// event is one change for the graph builder, with the object's metadata
// copied out of the informer's cache.
type event struct {
	typ        eventType
	id         identity
	owners     []metav1.OwnerReference
	finalizers []string
	deleting   bool
	// gone marks a synthetic deletion: a worker found the object (or a
	// virtual owner) absent from the API.
	gone bool
	// present are the UIDs a relist found (eventReplaced).
	present map[types.UID]struct{}
}

// push queues an informer event for the graph builder.
func (c *Controller) push(typ eventType, r client.Resource, o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	m, ok := o.(metav1.Object)
	if !ok {
		return
	}
	c.changes.Add(&event{
		typ:        typ,
		id:         identity{APIVersion: r.GVR.GroupVersion().String(), Kind: r.Kind, Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID()},
		owners:     slices.Clone(m.GetOwnerReferences()),
		finalizers: slices.Clone(m.GetFinalizers()),
		deleting:   m.GetDeletionTimestamp() != nil,
	})
}

// pushGone queues the removal of a node a worker found absent.
func (c *Controller) pushGone(id identity) {
	c.changes.Add(&event{typ: eventDeleted, id: id, gone: true})
}

// buildGraph applies graph changes one at a time until the queue shuts down.
func (c *Controller) buildGraph() {
	for {
		ev, quit := c.changes.Get()
		if quit {
			return
		}
		c.apply(ev)
		c.changes.Done(ev)
	}
}

// Drain applies every queued graph change now (tests only call this; Run's
// builder goroutine does it otherwise).
func (c *Controller) drain() {
	for c.changes.Len() > 0 {
		ev, quit := c.changes.Get()
		if quit {
			return
		}
		c.apply(ev)
		c.changes.Done(ev)
	}
}

// apply changes the graph for one event and queues the work it implies.
func (c *Controller) apply(ev *event) {
	g := c.graph
	g.mu.Lock()
	defer g.mu.Unlock()
	if ev.typ == eventReplaced {
		c.relistedLocked(ev)
		return
	}
	n := g.nodes[ev.id.UID]
	if ev.typ == eventDeleted {
		if n != nil {
			c.removeLocked(n)
		}
		c.absent.add(ev.id.UID)
		return
	}
	takesPart := len(ev.owners) > 0 || (ev.deleting && (hasFinalizer(ev.finalizers, metav1.FinalizerOrphanDependents) ||
		hasFinalizer(ev.finalizers, metav1.FinalizerDeleteDependents)))
	if n == nil {
		if !takesPart {
			return
		}
		n = &node{id: ev.id, dependents: map[*node]struct{}{}}
		g.nodes[n.id.UID] = n
	} else if n.virtual {
		n.virtual = false
		if n.id.groupKind() != ev.id.groupKind() || n.id.Name != ev.id.Name || n.id.Namespace != ev.id.Namespace {
			// Dependents named this UID with other coordinates: let them
			// check their references again.
			for d := range n.dependents {
				c.toDelete.Add(string(d.id.UID))
			}
		}
		n.id = ev.id
	}
	c.setOwnersLocked(n, ev.owners)
	c.transitionsLocked(n, ev)
	if !takesPart && len(n.dependents) == 0 && !n.deleting {
		c.removeLocked(n) // no longer involved in anything: free it
	}
}

// relistedLocked removes the observed nodes of the relisted resource that
// the list no longer holds (deleted while the watch was down).
func (c *Controller) relistedLocked(ev *event) {
	gk := ev.id.groupKind()
	var gone []*node
	for uid, n := range c.graph.nodes {
		if _, ok := ev.present[uid]; !ok && !n.virtual && n.id.groupKind() == gk {
			gone = append(gone, n)
		}
	}
	for _, n := range gone {
		c.removeLocked(n)
		c.absent.add(n.id.UID)
	}
}

// setOwnersLocked links n to its (new) owners and unlinks removed ones.
func (c *Controller) setOwnersLocked(n *node, owners []metav1.OwnerReference) {
	g := c.graph
	old := n.owners
	n.owners = owners
	for _, r := range old {
		if i := slices.IndexFunc(owners, func(o metav1.OwnerReference) bool { return o.UID == r.UID }); i >= 0 {
			if o := g.nodes[r.UID]; o != nil && o.deletingDependents && blocks(r) && !blocks(owners[i]) {
				c.toDelete.Add(string(o.id.UID)) // no longer blocked by n
			}
			continue
		}
		if o := g.nodes[r.UID]; o != nil {
			delete(o.dependents, n)
			if o.deletingDependents {
				c.toDelete.Add(string(o.id.UID))
			}
			c.dropIfUnusedLocked(o)
		}
	}
	for _, r := range owners {
		if slices.ContainsFunc(old, func(o metav1.OwnerReference) bool { return o.UID == r.UID }) {
			continue
		}
		o := g.nodes[r.UID]
		if o == nil {
			o = &node{virtual: true, dependents: map[*node]struct{}{},
				id: identity{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: n.id.Namespace, Name: r.Name, UID: r.UID}}
			g.nodes[r.UID] = o
			// Is the owner there at all? attemptToDelete checks.
			c.toDelete.Add(string(r.UID))
		}
		o.dependents[n] = struct{}{}
		if o.deletingDependents || c.absent.has(r.UID) {
			c.toDelete.Add(string(n.id.UID))
		}
	}
}

// transitionsLocked queues the work a change of n's deletion state needs.
func (c *Controller) transitionsLocked(n *node, ev *event) {
	n.deleting = ev.deleting
	if !ev.deleting {
		n.deletingDependents = false
		return
	}
	if hasFinalizer(ev.finalizers, metav1.FinalizerOrphanDependents) {
		c.toOrphan.Add(string(n.id.UID))
	}
	if hasFinalizer(ev.finalizers, metav1.FinalizerDeleteDependents) {
		if !n.deletingDependents {
			for d := range n.dependents {
				c.toDelete.Add(string(d.id.UID))
			}
		}
		n.deletingDependents = true
		c.toDelete.Add(string(n.id.UID))
	} else {
		n.deletingDependents = false
	}
}

// removeLocked takes n out of the graph: its dependents are checked (their
// owner may be gone), its owners that wait for their dependents look again.
func (c *Controller) removeLocked(n *node) {
	g := c.graph
	delete(g.nodes, n.id.UID)
	for d := range n.dependents {
		c.toDelete.Add(string(d.id.UID))
	}
	for _, r := range n.owners {
		if o := g.nodes[r.UID]; o != nil {
			delete(o.dependents, n)
			if o.deletingDependents {
				c.toDelete.Add(string(o.id.UID))
			}
			c.dropIfUnusedLocked(o)
		}
	}
	if len(n.dependents) > 0 {
		// The dependents still name this UID: keep a virtual node so their
		// links survive until they are dealt with.
		keep := &node{id: n.id, virtual: true, dependents: n.dependents}
		g.nodes[n.id.UID] = keep
	}
}

// dropIfUnusedLocked frees a node nothing refers to and that refers to
// nothing (an owner whose last dependent went).
func (c *Controller) dropIfUnusedLocked(n *node) {
	if len(n.dependents) == 0 && len(n.owners) == 0 && !n.deleting {
		delete(c.graph.nodes, n.id.UID)
	}
}

func blocks(r metav1.OwnerReference) bool {
	return r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion
}

func hasFinalizer(fs []string, f string) bool { return slices.Contains(fs, f) }

// absentCache remembers UIDs known to be gone (a UID is never reused), so
// dependents of a deleted owner do not each ask the API about it.
type absentCache struct {
	mu    sync.Mutex
	max   int
	order []types.UID
	set   map[types.UID]struct{}
}

const absentCacheSize = 500

func newAbsentCache(max int) *absentCache {
	return &absentCache{max: max, set: map[types.UID]struct{}{}}
}

func (a *absentCache) add(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.set[uid]; ok {
		return
	}
	if len(a.order) >= a.max {
		delete(a.set, a.order[0])
		a.order = a.order[1:]
	}
	a.order = append(a.order, uid)
	a.set[uid] = struct{}{}
}

func (a *absentCache) has(uid types.UID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.set[uid]
	return ok
}
