package serviceaccount

import "context"

// Sync runs one reconcile of a namespace (for tests).
func (c *Controller) Sync(ctx context.Context, ns string) error { return c.sync(ctx, ns) }
