// Package replicationcontroller runs ReplicationControllers with the
// ReplicaSet controller, as upstream does: an RC is read as a ReplicaSet
// (its equality selector as matchLabels, its template), pods are owned by
// the RC (kind ReplicationController, apiVersion v1), and status and the
// ReplicaFailure condition are written back to the RC.
package replicationcontroller

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/podcontrol"
	"kserver.dev/kserver/internal/controller/replicaset"
)

// Component is the event source name upstream uses for this controller.
const Component = "replication-controller"

// Config is the ReplicaSet controller's configuration; Recorder must
// write as Component.
type Config = replicaset.Config

// Controller reconciles ReplicationControllers.
type Controller struct{ *replicaset.Controller }

// New builds the controller on cfg's informers (ReplicationControllers and
// Pods); it starts nothing.
func New(cfg Config) *Controller {
	inf := cfg.Informers.ReplicationControllers()
	a := &adapter{set: cfg.Set, inf: inf, lister: corelisters.NewReplicationControllerLister(inf.GetIndexer())}
	return &Controller{replicaset.NewFor(cfg, a, "replicationcontroller")}
}

type adapter struct {
	set    *client.Set
	inf    cache.SharedIndexInformer
	lister corelisters.ReplicationControllerLister
}

func (a *adapter) Kind() schema.GroupVersionKind {
	return corev1.SchemeGroupVersion.WithKind("ReplicationController")
}

func (a *adapter) TracksTerminating() bool { return false }

func (a *adapter) Informer() cache.SharedIndexInformer { return a.inf }

func (a *adapter) Get(ns, name string) (*appsv1.ReplicaSet, podcontrol.Owner, error) {
	rc, err := a.lister.ReplicationControllers(ns).Get(name)
	if err != nil {
		return nil, nil, err
	}
	return toReplicaSet(rc), rc, nil
}

func (a *adapter) List(ns string) ([]*appsv1.ReplicaSet, error) {
	rcs, err := a.lister.ReplicationControllers(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, len(rcs))
	for i, rc := range rcs {
		out[i] = toReplicaSet(rc)
	}
	return out, nil
}

func (a *adapter) GetFresh(ctx context.Context, ns, name string) (metav1.Object, error) {
	return a.set.ReplicationControllers(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a *adapter) UpdateStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) error {
	rc, err := a.lister.ReplicationControllers(rs.Namespace).Get(rs.Name)
	if err != nil {
		return err
	}
	c := rc.DeepCopy()
	c.Status = corev1.ReplicationControllerStatus{
		Replicas:             st.Replicas,
		FullyLabeledReplicas: st.FullyLabeledReplicas,
		ReadyReplicas:        st.ReadyReplicas,
		AvailableReplicas:    st.AvailableReplicas,
		ObservedGeneration:   st.ObservedGeneration,
	}
	for _, cond := range st.Conditions {
		c.Status.Conditions = append(c.Status.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(cond.Type), Status: cond.Status,
			LastTransitionTime: cond.LastTransitionTime, Reason: cond.Reason, Message: cond.Message,
		})
	}
	_, err = a.set.ReplicationControllers(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
	return err
}

// toReplicaSet is the ReplicaSet view of rc (a copy).
func toReplicaSet(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: *rc.ObjectMeta.DeepCopy()}
	rs.Spec.Replicas = rc.Spec.Replicas
	rs.Spec.MinReadySeconds = rc.Spec.MinReadySeconds
	sel := rc.Spec.Selector
	if len(sel) == 0 && rc.Spec.Template != nil {
		sel = rc.Spec.Template.Labels
	}
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
	if rc.Spec.Template != nil {
		rc.Spec.Template.DeepCopyInto(&rs.Spec.Template)
	}
	rs.Status = appsv1.ReplicaSetStatus{
		Replicas:             rc.Status.Replicas,
		FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
		ReadyReplicas:        rc.Status.ReadyReplicas,
		AvailableReplicas:    rc.Status.AvailableReplicas,
		ObservedGeneration:   rc.Status.ObservedGeneration,
	}
	for _, cond := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(cond.Type), Status: cond.Status,
			LastTransitionTime: cond.LastTransitionTime, Reason: cond.Reason, Message: cond.Message,
		})
	}
	return rs
}
