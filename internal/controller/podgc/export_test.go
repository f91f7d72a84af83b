package podgc

import "context"

// Sync runs one pass (for tests).
func (c *Controller) Sync(ctx context.Context) error { return c.sync(ctx, passKey) }
