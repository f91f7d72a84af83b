package apiserver

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
)

// Admission: what upstream's default admission plugins do on create,
// beyond the per-type strategy (which is pure). Each plugin is a small
// function in its own file (admit_*.go); admitCreate runs them in
// upstream's order on the defaulted object before PrepareForCreate and
// validation. ResourceQuota runs last, with the cluster-state hooks
// (beforeCreate), because it charges what the object finally requests.
func (s *Server) admitCreate(ctx context.Context, c *call, obj runtime.Object) error {
	return nil
}
