package nodelifecycle

import "context"

// Sync runs one reconcile of a node (for tests).
func (c *Controller) Sync(ctx context.Context, name string) error { return c.sync(ctx, name) }

// Sync runs one reconcile of a pod (for tests).
func (e *TaintEviction) Sync(ctx context.Context, key string) error { return e.sync(ctx, key) }
