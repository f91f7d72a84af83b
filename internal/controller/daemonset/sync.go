package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/controller/history"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

// sync reconciles the DaemonSet key: revision, pods per node (create,
// delete misplaced and failed ones), rolling update, status, history.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dss.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	ds := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	if ds.DeletionTimestamp != nil {
		return nil
	}
	cur, revs, collisions, err := c.currentRevision(ctx, ds, sel)
	if err != nil {
		return err
	}
	hash := cur.Labels[history.HashLabel]
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	byNode, pods, err := c.podsByNode(ctx, ds, sel)
	if err != nil {
		return err
	}
	if c.exp.Satisfied(key) {
		if err := c.manage(ctx, key, ds, nodes, byNode, hash); err != nil {
			return err
		}
		if ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
			if err := c.rollingUpdate(ctx, key, ds, nodes, byNode, hash); err != nil {
				return err
			}
		}
	}
	if err := c.updateStatus(ctx, ds, nodes, byNode, hash, collisions); err != nil {
		return err
	}
	return c.cleanupHistory(ctx, ds, pods, revs, cur)
}

// podsByNode claims the DaemonSet's pods and groups them by target node.
func (c *Controller) podsByNode(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) (map[string][]*corev1.Pod, []*corev1.Pod, error) {
	all, err := c.pods.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, nil, err
	}
	cl := &podcontrol.Claimer{Owner: ds, Kind: kind, Selector: sel, Patch: podcontrol.PodPatcher(c.set),
		CanAdopt: podcontrol.RecheckOwner(ds, func(ctx context.Context) (metav1.Object, error) {
			return c.set.DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		})}
	owned, err := podcontrol.Claim(ctx, cl, all)
	if err != nil {
		return nil, nil, err
	}
	byNode := map[string][]*corev1.Pod{}
	for _, p := range owned {
		if n := targetNode(p); n != "" {
			byNode[n] = append(byNode[n], p)
		}
	}
	for _, ps := range byNode {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].CreationTimestamp.Before(&ps[j].CreationTimestamp) })
	}
	return byNode, owned, nil
}

// manage decides per node which pods to create and delete.
func (c *Controller) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	var create []string
	var del []*corev1.Pod
	known := map[string]bool{}
	for _, node := range nodes {
		known[node.Name] = true
		run, keep := shouldRun(node, ds)
		pods := byNode[node.Name]
		switch {
		case run && len(pods) == 0:
			create = append(create, node.Name)
		case keep:
			var running []*corev1.Pod
			for _, p := range pods {
				if p.DeletionTimestamp != nil {
					continue
				}
				if p.Status.Phase == corev1.PodFailed {
					c.rec.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
					del = append(del, p)
					continue
				}
				running = append(running, p)
			}
			if surge := maxSurge(ds, len(nodes)); surge == 0 && len(running) > 1 {
				del = append(del, running[1:]...)
			}
		case !keep:
			for _, p := range pods {
				if p.DeletionTimestamp == nil {
					del = append(del, p)
				}
			}
		}
	}
	for n, pods := range byNode {
		if known[n] {
			continue
		}
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				del = append(del, p)
			}
		}
	}
	return c.syncNodes(ctx, key, ds, del, create, hash)
}

// syncNodes creates a pod on each node of create and deletes del, at most
// BurstReplicas of each.
func (c *Controller) syncNodes(ctx context.Context, key string, ds *appsv1.DaemonSet, del []*corev1.Pod, create []string, hash string) error {
	create = create[:min(len(create), BurstReplicas)]
	del = del[:min(len(del), BurstReplicas)]
	if len(create) == 0 && len(del) == 0 {
		return nil
	}
	var errs []error
	if len(create) > 0 {
		c.exp.ExpectCreations(key, len(create))
		tmpl := podTemplate(ds, hash)
		ref := podcontrol.ControllerRef(ds, kind)
		var next, failed atomic.Int32
		ok, err := podcontrol.SlowStart(len(create), func() error {
			node := create[next.Add(1)-1]
			pod := podcontrol.PodFromTemplate(tmpl, ds, ref)
			pinToNode(&pod.Spec, node)
			if _, err := c.control.Create(ctx, ds, pod); err != nil {
				failed.Add(1)
				c.exp.CreationObserved(key)
				return err
			}
			return nil
		})
		for i := ok + int(failed.Load()); i < len(create); i++ {
			c.exp.CreationObserved(key)
		}
		if err != nil && !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			errs = append(errs, err)
		}
	}
	if len(del) > 0 {
		errs = append(errs, c.deletePods(ctx, key, ds, del))
	}
	return errors.Join(errs...)
}

func (c *Controller) deletePods(ctx context.Context, key string, ds *appsv1.DaemonSet, del []*corev1.Pod) error {
	keys := make([]string, len(del))
	for i, p := range del {
		keys[i] = podcontrol.Key(p)
	}
	c.exp.ExpectDeletions(key, keys)
	errs := make([]error, len(del))
	var wg sync.WaitGroup
	for i, p := range del {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.control.Delete(ctx, ds, p.Namespace, p.Name); err != nil {
				c.exp.DeletionObserved(key, keys[i])
				if !apierrors.IsNotFound(err) {
					errs[i] = err
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// podTemplate is the template pods are made from: the DaemonSet's with
// the automatic tolerations and the revision labels.
func podTemplate(ds *appsv1.DaemonSet, hash string) *corev1.PodTemplateSpec {
	t := ds.Spec.Template.DeepCopy()
	addDaemonTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	t.Labels[appsv1.DeprecatedTemplateGeneration] = strconv.FormatInt(ds.Generation, 10)
	t.Labels[history.HashLabel] = hash
	return t
}

// updateStatus counts nodes and their pods as upstream.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, collisions int32) error {
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, CollisionCount: &collisions, Conditions: ds.Status.Conditions}
	now := c.clock.Now()
	for _, node := range nodes {
		run, _ := shouldRun(node, ds)
		pods := byNode[node.Name]
		if run {
			st.DesiredNumberScheduled++
		}
		if len(pods) == 0 {
			continue
		}
		if !run {
			st.NumberMisscheduled++
			continue
		}
		st.CurrentNumberScheduled++
		p := pods[0]
		if podcontrol.IsReady(p) {
			st.NumberReady++
			if podcontrol.IsAvailable(p, ds.Spec.MinReadySeconds, now) {
				st.NumberAvailable++
			}
		}
		for _, q := range pods {
			if isUpdated(q, hash, ds) && q.DeletionTimestamp == nil {
				st.UpdatedNumberScheduled++
				break
			}
		}
	}
	st.NumberUnavailable = max(0, st.DesiredNumberScheduled-st.NumberAvailable)
	if equality.Semantic.DeepEqual(ds.Status, st) {
		return nil
	}
	ds.Status = st
	if _, err := c.set.DaemonSets(ds.Namespace).UpdateStatus(ctx, ds, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}

func isUpdated(p *corev1.Pod, hash string, ds *appsv1.DaemonSet) bool {
	if h, ok := p.Labels[history.HashLabel]; ok {
		return h == hash
	}
	return p.Labels[appsv1.DeprecatedTemplateGeneration] == strconv.FormatInt(ds.Generation, 10)
}
