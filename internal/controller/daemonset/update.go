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
	now := c.clock.Now()
	desired := 0
	for _, n := range nodes {
		if run, _ := shouldRun(n, ds); run {
			desired++
		}
	}
	surge, unavail := maxSurge(ds, desired), maxUnavailable(ds, desired)
	available := func(p *corev1.Pod) bool {
		return p != nil && podcontrol.IsAvailable(p, ds.Spec.MinReadySeconds, now)
	}
	var del []*corev1.Pod
	var candidates []*corev1.Pod
	var create []string
	numUnavailable, surging := 0, 0
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
				numUnavailable++
			}
		case !available(oldPod):
			del = append(del, oldPod) // an unavailable old pod never waits
			numUnavailable++
		case surge > 0 && newPod == nil:
			create = append(create, node.Name)
		case surge > 0 && available(newPod):
			del = append(del, oldPod)
		case surge > 0:
			surging++
		case newPod == nil:
			candidates = append(candidates, oldPod)
		}
	}
	if surge > 0 {
		create = create[:max(0, min(len(create), surge-surging))]
		if len(create) > 0 || len(del) > 0 {
			return c.syncNodes(ctx, key, ds, del, create, hash)
		}
		return nil
	}
	for _, p := range candidates {
		if numUnavailable >= unavail {
			break
		}
		del = append(del, p)
		numUnavailable++
	}
	if len(del) == 0 {
		if ds.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
		}
		return nil
	}
	return c.syncNodes(ctx, key, ds, del, nil, hash)
}
