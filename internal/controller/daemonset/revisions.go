package daemonset

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

// currentRevision claims the DaemonSet's revisions and returns the one
// holding its current template (created, or renumbered to the newest
// after a rollback), with all of them and the collision count.
func (c *Controller) currentRevision(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) (*appsv1.ControllerRevision, []*appsv1.ControllerRevision, int32, error) {
	listed, err := c.revs.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, nil, 0, err
	}
	cl := &podcontrol.Claimer{Owner: ds, Kind: kind, Selector: sel, Patch: history.Patcher(c.set),
		CanAdopt: podcontrol.RecheckOwner(ds, func(ctx context.Context) (metav1.Object, error) {
			return c.set.DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		})}
	owned, err := podcontrol.Claim(ctx, cl, listed)
	if err != nil {
		return nil, nil, 0, err
	}
	var all []*appsv1.ControllerRevision
	for _, r := range owned {
		all = append(all, r.DeepCopy())
	}
	history.Sort(all)
	var collisions int32
	if ds.Status.CollisionCount != nil {
		collisions = *ds.Status.CollisionCount
	}
	data, err := history.TemplatePatch(ds)
	if err != nil {
		return nil, nil, 0, err
	}
	next := history.Next(all)
	want := history.New(ds, kind, ds.Spec.Template.Labels, data, next, &collisions)
	equal := history.FindEqual(all, want)
	var cur *appsv1.ControllerRevision
	switch {
	case len(equal) == 0:
		if cur, err = history.Create(ctx, c.set, ds, kind, want, &collisions); err != nil {
			return nil, nil, 0, err
		}
		all = append(all, cur)
	case equal[len(equal)-1].Revision < next-1:
		if cur, err = history.UpdateRevision(ctx, c.set, equal[len(equal)-1], next); err != nil {
			return nil, nil, 0, err
		}
	default:
		cur = equal[len(equal)-1]
	}
	return cur, all, collisions, nil
}

// cleanupHistory deletes the oldest revisions beyond revisionHistoryLimit
// that are not current and that no pod uses.
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod, all []*appsv1.ControllerRevision, cur *appsv1.ControllerRevision) error {
	live := map[string]bool{cur.Labels[history.HashLabel]: true}
	for _, p := range pods {
		live[p.Labels[history.HashLabel]] = true
	}
	var dead []*appsv1.ControllerRevision
	for _, r := range all {
		if !live[r.Labels[history.HashLabel]] && r.Name != cur.Name {
			dead = append(dead, r)
		}
	}
	limit := 10
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	for i := 0; i < len(dead)-limit; i++ {
		if err := c.set.ControllerRevisions(ds.Namespace).Delete(ctx, dead[i].Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("delete controller revision %s: %w", dead[i].Name, err)
		}
	}
	return nil
}
