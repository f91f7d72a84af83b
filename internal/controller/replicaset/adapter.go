package replicaset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

// Adapter lets the controller run a kind shaped like a ReplicaSet.
type Adapter interface {
	// Kind is the owner kind written into pods' controller references.
	Kind() schema.GroupVersionKind
	// Informer is the shared informer of the kind.
	Informer() cache.SharedIndexInformer
	// Get reads ns/name from the informer cache as a ReplicaSet (a copy the
	// caller may change) and the original object for Events.
	Get(ns, name string) (*appsv1.ReplicaSet, podcontrol.Owner, error)
	// List returns every object of the kind in ns from the cache.
	List(ns string) ([]*appsv1.ReplicaSet, error)
	// GetFresh reads ns/name from the API (for adoption checks).
	GetFresh(ctx context.Context, ns, name string) (metav1.Object, error)
	// UpdateStatus writes status to the object rs stands for.
	UpdateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) error
	// TracksTerminating reports whether the kind's status has
	// terminatingReplicas (ReplicaSets do; RCs do not).
	TracksTerminating() bool
}

// replicaSets is the Adapter of apps/v1 ReplicaSets.
type replicaSets struct {
	set    *client.Set
	inf    cache.SharedIndexInformer
	lister appslisters.ReplicaSetLister
}

func newReplicaSets(set *client.Set, inf *client.Informers) *replicaSets {
	i := inf.ReplicaSets()
	return &replicaSets{set: set, inf: i, lister: appslisters.NewReplicaSetLister(i.GetIndexer())}
}

func (r *replicaSets) Kind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
}

func (r *replicaSets) TracksTerminating() bool { return true }

func (r *replicaSets) Informer() cache.SharedIndexInformer { return r.inf }

func (r *replicaSets) Get(ns, name string) (*appsv1.ReplicaSet, podcontrol.Owner, error) {
	rs, err := r.lister.ReplicaSets(ns).Get(name)
	if err != nil {
		return nil, nil, err
	}
	return rs.DeepCopy(), rs, nil
}

func (r *replicaSets) List(ns string) ([]*appsv1.ReplicaSet, error) {
	return r.lister.ReplicaSets(ns).List(labels.Everything())
}

func (r *replicaSets) GetFresh(ctx context.Context, ns, name string) (metav1.Object, error) {
	return r.set.ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (r *replicaSets) UpdateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) error {
	c := rs.DeepCopy()
	c.Status = status
	_, err := r.set.ReplicaSets(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
	return err
}
