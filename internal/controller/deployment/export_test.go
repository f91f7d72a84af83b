package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
)

// Sync runs one reconcile of key (for tests in package deployment_test).
func (c *Controller) Sync(ctx context.Context, key string) error { return c.sync(ctx, key) }

// NewReplicaSetName is the name sync gives d's new replica set.
func NewReplicaSetName(d *appsv1.Deployment) string {
	return d.Name + "-" + templateHash(&d.Spec.Template, d.Status.CollisionCount)
}
