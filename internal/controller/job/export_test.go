package job

import "context"

// Sync runs one reconcile of key (for tests in package job_test).
func (c *Controller) Sync(ctx context.Context, key string) error { return c.syncKey(ctx, key) }
