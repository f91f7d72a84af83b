package endpoints

import "context"

// Sync runs one reconcile of key (for tests in package endpoints_test).
func (c *Controller) Sync(ctx context.Context, key string) error { return c.sync(ctx, key) }
