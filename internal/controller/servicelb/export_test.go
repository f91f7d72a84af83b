package servicelb

import "context"

// Sync runs one reconcile of a Service key (for tests).
func (c *Controller) Sync(ctx context.Context, key string) error { return c.sync(ctx, key) }
