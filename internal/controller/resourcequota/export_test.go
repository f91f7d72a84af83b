package resourcequota

import "context"

// Sync runs one reconcile of a quota (for tests).
func (c *Controller) Sync(ctx context.Context, key string) error { return c.sync(ctx, key) }
