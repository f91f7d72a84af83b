package garbagecollector

import (
	"context"

	"k8s.io/client-go/tools/cache"
)

// Step applies the queued graph changes, then runs the queued deletion and
// orphaning work once (for tests driving the collector without Run); it
// reports how many items it processed.
func (c *Controller) Step(ctx context.Context) (int, error) {
	c.drain()
	n := 0
	for _, q := range []struct {
		q    interface{ Len() int }
		next func() (string, bool)
		done func(string)
		sync func(context.Context, string) error
	}{
		{c.toOrphan, c.toOrphan.Get, c.toOrphan.Done, c.attemptToOrphan},
		{c.toDelete, c.toDelete.Get, c.toDelete.Done, c.attemptToDelete},
	} {
		for q.q.Len() > 0 {
			key, _ := q.next()
			err := q.sync(ctx, key)
			q.done(key)
			n++
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Synced lists the collector's informers' HasSynced (after Start).
func (c *Controller) Synced() []cache.InformerSynced { return c.synced }

// GraphSize is how many nodes the graph holds.
func (c *Controller) GraphSize() int {
	c.graph.mu.RLock()
	defer c.graph.mu.RUnlock()
	return len(c.graph.nodes)
}
