package statefulset

import (
	"context"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/controller/history"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

// sync reconciles the StatefulSet key: revisions, then pods in ordinal
// order (create, replace failed ones, remove condemned ones, roll the
// update), then status and history.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.sets.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	set := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || set.DeletionTimestamp != nil {
		return nil
	}
	pods, err := c.claimPods(ctx, set, sel)
	if err != nil {
		return err
	}
	cur, upd, revs, collisions, err := c.revisions(ctx, set, sel)
	if err != nil {
		return err
	}
	r := &round{c: c, set: set, cur: cur, upd: upd, live: map[string]*corev1.Pod{}}
	if r.curTmpl, err = history.TemplateOf(cur); err != nil {
		return err
	}
	for _, p := range pods {
		r.live[p.Name] = p
	}
	actErr := r.run(ctx)
	st := r.status(collisions)
	if !equality.Semantic.DeepEqual(set.Status, st) {
		set.Status = st
		if _, err := c.set.StatefulSets(ns).UpdateStatus(ctx, set, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update status of statefulset %s: %w", key, err)
		}
	}
	if actErr != nil {
		return actErr
	}
	return c.truncateHistory(ctx, set, pods, revs, cur, upd)
}

// claimPods adopts pods named after the set that match its selector.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.pods.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var members []*corev1.Pod
	for _, p := range all {
		if ordinalOf(set, p) >= 0 || metav1.IsControlledBy(p, set) {
			members = append(members, p)
		}
	}
	cl := &podcontrol.Claimer{Owner: set, Kind: kind, Selector: sel, Patch: podcontrol.PodPatcher(c.set),
		CanAdopt: podcontrol.RecheckOwner(set, func(ctx context.Context) (metav1.Object, error) {
			return c.set.StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
		})}
	return podcontrol.Claim(ctx, cl, members)
}

// round is one reconcile's view: the pods by name as they are after this
// sync's own creations and deletions.
type round struct {
	c        *Controller
	set      *appsv1.StatefulSet
	cur, upd *appsv1.ControllerRevision
	curTmpl  *corev1.PodTemplateSpec
	live     map[string]*corev1.Pod
}

func (r *round) replicas() int {
	if r.set.Spec.Replicas == nil {
		return 1
	}
	return int(*r.set.Spec.Replicas)
}

func (r *round) ordered() bool {
	return r.set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
}

// newVersionedPod is the pod for ordinal: from the current revision when a
// rolling update's partition keeps that ordinal back, else the update one.
func (r *round) newVersionedPod(ordinal int) *corev1.Pod {
	s := r.set.Spec.UpdateStrategy
	if s.Type == appsv1.RollingUpdateStatefulSetStrategyType && s.RollingUpdate != nil && s.RollingUpdate.Partition != nil &&
		ordinal-startOrdinal(r.set) < int(*s.RollingUpdate.Partition) && r.cur.Name != r.upd.Name {
		return newPod(r.set, r.curTmpl, r.cur.Name, ordinal)
	}
	return newPod(r.set, &r.set.Spec.Template, r.upd.Name, ordinal)
}

// run does the pod work; it stops early (returning nil) where OrderedReady
// must wait.
func (r *round) run(ctx context.Context) error {
	start, n := startOrdinal(r.set), r.replicas()
	var condemned []*corev1.Pod
	for _, p := range r.live {
		if o := ordinalOf(r.set, p); o >= 0 && (o < start || o >= start+n) {
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool { return ordinalOf(r.set, condemned[i]) < ordinalOf(r.set, condemned[j]) })

	for ord := start; ord < start+n; ord++ {
		done, err := r.ensure(ctx, ord)
		if err != nil || (done && r.ordered()) {
			return err
		}
	}
	for i := len(condemned) - 1; i >= 0; i-- {
		p := condemned[i]
		if p.DeletionTimestamp != nil {
			if r.ordered() {
				return nil
			}
			continue
		}
		if err := r.c.deletePod(ctx, r.set, p, true); err != nil {
			return err
		}
		delete(r.live, p.Name)
		if r.ordered() {
			return nil
		}
	}
	return r.rollingUpdate(ctx)
}

// ensure makes ordinal's pod exist and reports whether an OrderedReady set
// must stop here (it acted, or the pod is not yet healthy).
func (r *round) ensure(ctx context.Context, ord int) (bool, error) {
	name := fmt.Sprintf("%s-%d", r.set.Name, ord)
	p := r.live[name]
	if p != nil && p.DeletionTimestamp == nil && (p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded) {
		if err := r.c.deletePod(ctx, r.set, p, false); err != nil {
			return true, err
		}
		delete(r.live, name)
		return true, nil
	}
	if p == nil {
		np := r.newVersionedPod(ord)
		if err := r.c.createPod(ctx, r.set, np, ord); err != nil {
			return true, err
		}
		np.Status.Phase = corev1.PodPending
		r.live[name] = np
		return true, nil
	}
	if p.DeletionTimestamp != nil || !runningAndReady(p) {
		return true, nil
	}
	if m := r.set.Spec.MinReadySeconds; m > 0 && !podcontrol.IsAvailable(p, m, r.c.clock.Now()) {
		r.c.queue.AddAfter(r.set.Namespace+"/"+r.set.Name, time.Duration(m)*time.Second)
		return true, nil
	}
	return false, nil
}

// rollingUpdate deletes pods of an old revision from the highest ordinal
// down to the partition, keeping at most maxUnavailable of them down.
func (r *round) rollingUpdate(ctx context.Context) error {
	s := r.set.Spec.UpdateStrategy
	if s.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return nil
	}
	start, n := startOrdinal(r.set), r.replicas()
	partition, maxUnavail := 0, 1
	if ru := s.RollingUpdate; ru != nil {
		if ru.Partition != nil {
			partition = int(*ru.Partition)
		}
		if ru.MaxUnavailable != nil {
			v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, n, true)
			if err == nil {
				maxUnavail = max(1, v)
			}
		}
	}
	unavailable := 0
	for ord := start + partition; ord < start+n; ord++ {
		p := r.live[fmt.Sprintf("%s-%d", r.set.Name, ord)]
		if p == nil || p.DeletionTimestamp != nil || !podcontrol.IsAvailable(p, r.set.Spec.MinReadySeconds, r.c.clock.Now()) {
			unavailable++
		}
	}
	for ord := start + n - 1; ord >= start+partition && unavailable < maxUnavail; ord-- {
		p := r.live[fmt.Sprintf("%s-%d", r.set.Name, ord)]
		if p == nil || p.DeletionTimestamp != nil || revisionOf(p) == r.upd.Name {
			continue
		}
		if err := r.c.deletePod(ctx, r.set, p, false); err != nil {
			return err
		}
		delete(r.live, p.Name)
		unavailable++
	}
	return nil
}

// status counts the pods as upstream: created, ready, available, and by
// revision; a finished rolling update makes the update revision current.
func (r *round) status(collisions int32) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: r.set.Generation,
		CurrentRevision:    r.cur.Name,
		UpdateRevision:     r.upd.Name,
		CollisionCount:     &collisions,
		Conditions:         r.set.Status.Conditions,
	}
	now := r.c.clock.Now()
	for _, p := range r.live {
		if p.Status.Phase == "" {
			continue
		}
		st.Replicas++
		if runningAndReady(p) {
			st.ReadyReplicas++
			if podcontrol.IsAvailable(p, r.set.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
		if p.DeletionTimestamp == nil {
			if revisionOf(p) == r.cur.Name {
				st.CurrentReplicas++
			}
			if revisionOf(p) == r.upd.Name {
				st.UpdatedReplicas++
			}
		}
	}
	if r.set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentReplicas, st.CurrentRevision = st.UpdatedReplicas, st.UpdateRevision
	}
	return st
}
