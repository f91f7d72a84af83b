package daemonset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/controller/podcontrol"
)

func maxSurge(ds *appsv1.DaemonSet, nodes int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return 0
	}
	v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, nodes, true)
	if err != nil {
		return 0
	}
	return v
}

func maxUnavailable(ds *appsv1.DaemonSet, nodes int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	one := intstr.FromInt32(1)
	mu := &one
	if ru != nil && ru.MaxUnavailable != nil {
		mu = ru.MaxUnavailable
	}
	v, err := intstr.GetScaledValueFromIntOrPercent(mu, nodes, true)
	if err != nil {
		return 1
	}
	if v == 0 && maxSurge(ds, nodes) == 0 {
		return 1
	}
	return v
}

// rollingUpdate replaces pods of old revisions. Without surge, old pods
// are deleted while fewer than maxUnavailable nodes lack an available pod
// (unavailable old pods always go); with surge, a new pod is started
// beside an available old one (up to maxSurge at a time) and the old one
// is deleted once the new one is available.
func (c *Controller) rollingUpdate(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	plan := c.planUpdate(ds, nodes, byNode, hash)
	if plan.surge > 0 {
		create := plan.create[:max(0, min(len(plan.create), plan.surge-plan.surging))]
		if len(create) > 0 || len(plan.del) > 0 {
			return c.syncNodes(ctx, key, ds, plan.del, create, hash)
		}
		return nil
	}
	del, unavailable := plan.del, plan.unavailable
	for _, p := range plan.candidates {
		if unavailable >= plan.maxUnavailable {
			break
		}
		del = append(del, p)
		unavailable++
	}
	if len(del) == 0 {
		if ds.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
		}
		return nil
	}
	return c.syncNodes(ctx, key, ds, del, nil, hash)
}

// updatePlan is what a rolling update step may do.
type updatePlan struct {
	surge, maxUnavailable int
	del                   []*corev1.Pod // old pods to delete now
	candidates            []*corev1.Pod // available old pods, deleted within maxUnavailable
	create                []string      // nodes to surge a new pod onto
	unavailable, surging  int
}

// planUpdate sorts every node that should run the pod by the state of its
// old and new pods.
func (c *Controller) planUpdate(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) updatePlan {
	now := c.clock.Now()
	desired := 0
	for _, n := range nodes {
		if run, _ := shouldRun(n, ds); run {
			desired++
		}
	}
	plan := updatePlan{surge: maxSurge(ds, desired), maxUnavailable: maxUnavailable(ds, desired)}
	available := func(p *corev1.Pod) bool {
		return p != nil && podcontrol.IsAvailable(p, ds.Spec.MinReadySeconds, now)
	}
	for _, node := range nodes {
		if run, _ := shouldRun(node, ds); !run {
			continue
		}
		var newPod, oldPod *corev1.Pod
		for _, p := range byNode[node.Name] {
			if p.DeletionTimestamp != nil {
				continue
			}
			if isUpdated(p, hash, ds) {
				newPod = p
			} else if oldPod == nil {
				oldPod = p
			}
		}
		switch {
		case oldPod == nil:
			if !available(newPod) {
				plan.unavailable++
			}
		case !available(oldPod):
			plan.del = append(plan.del, oldPod) // an unavailable old pod never waits
			plan.unavailable++
		case plan.surge > 0 && newPod == nil:
			plan.create = append(plan.create, node.Name)
		case plan.surge > 0 && available(newPod):
			plan.del = append(plan.del, oldPod)
		case plan.surge > 0:
			plan.surging++
		case newPod == nil:
			plan.candidates = append(plan.candidates, oldPod)
		}
	}
	return plan
}
