package nodeipam

import "context"

// Sync runs one reconcile of a node (for tests).
func (c *Controller) Sync(ctx context.Context, name string) error { return c.sync(ctx, name) }
