package statefulset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kserver.dev/kserver/internal/controller/history"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

// revisions claims set's ControllerRevisions and returns the current and
// update revisions (creating the update one, or renumbering an older equal
// one after a rollback), all revisions sorted, and the collision count.
func (c *Controller) revisions(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) (cur, upd *appsv1.ControllerRevision, all []*appsv1.ControllerRevision, collisions int32, err error) {
	listed, err := c.revs.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, nil, nil, 0, err
	}
	cl := &podcontrol.Claimer{Owner: set, Kind: kind, Selector: sel, Patch: history.Patcher(c.set),
		CanAdopt: podcontrol.RecheckOwner(set, func(ctx context.Context) (metav1.Object, error) {
			return c.set.StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
		})}
	owned, err := podcontrol.Claim(ctx, cl, listed)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	for _, r := range owned {
		all = append(all, r.DeepCopy())
	}
	history.Sort(all)
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	data, err := history.TemplatePatch(set)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	upd = history.New(set, kind, set.Spec.Template.Labels, data, history.Next(all), &collisions)
	equal := history.FindEqual(all, upd)
	switch {
	case len(equal) > 0 && history.Equal(all[len(all)-1], equal[len(equal)-1]):
		upd = all[len(all)-1]
	case len(equal) > 0:
		if upd, err = history.UpdateRevision(ctx, c.set, equal[len(equal)-1], upd.Revision); err != nil {
			return nil, nil, nil, 0, err
		}
	default:
		if upd, err = history.Create(ctx, c.set, set, kind, upd, &collisions); err != nil {
			return nil, nil, nil, 0, err
		}
		all = append(all, upd)
	}
	for _, r := range all {
		if r.Name == set.Status.CurrentRevision {
			cur = r
		}
	}
	if cur == nil {
		cur = upd
	}
	return cur, upd, all, collisions, nil
}

// truncateHistory deletes the oldest revisions beyond
// revisionHistoryLimit that are neither current, update, nor used by a pod.
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, all []*appsv1.ControllerRevision, cur, upd *appsv1.ControllerRevision) error {
	live := map[string]bool{cur.Name: true, upd.Name: true}
	for _, p := range pods {
		live[revisionOf(p)] = true
	}
	var dead []*appsv1.ControllerRevision
	for _, r := range all {
		if !live[r.Name] {
			dead = append(dead, r)
		}
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	for i := 0; i < len(dead)-limit; i++ {
		if err := c.set.ControllerRevisions(set.Namespace).Delete(ctx, dead[i].Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("delete controller revision %s: %w", dead[i].Name, err)
		}
	}
	return nil
}
