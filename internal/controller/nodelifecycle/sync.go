package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// excludeDisruption is the label that keeps a node out of the disruption
// count, as upstream.
const excludeDisruption = "node.kubernetes.io/exclude-disruption"

// recheckSlack is added to a healthy node's deadline before it is looked
// at again.
const recheckSlack = 100 * time.Millisecond

// sync checks one node's health and makes its conditions, taints, labels
// and pods agree with it.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(name)
		return nil
	}
	if err != nil {
		return err
	}
	c.register(node)
	deadline, _ := c.observe(node)
	now := c.clock.Now()
	if now.After(deadline) {
		if node, err = c.markSilent(ctx, node, metav1.NewTime(now)); err != nil {
			return err
		}
	} else {
		c.queue.AddAfter(name, deadline.Sub(now)+recheckSlack)
	}
	full := c.disruption()
	if err := c.updateTaintsAndLabels(ctx, node, !full, metav1.NewTime(now)); err != nil {
		return err
	}
	if readyStatus(node) == corev1.ConditionUnknown {
		return c.markPodsNotReady(ctx, node.Name, metav1.NewTime(now))
	}
	return nil
}

// markSilent sets the conditions of a node that stopped reporting to
// Unknown and returns the node as stored.
func (c *Controller) markSilent(ctx context.Context, node *corev1.Node, now metav1.Time) (*corev1.Node, error) {
	next := node.DeepCopy()
	if !markUnknown(next, now) {
		return node, nil
	}
	wasReady := readyStatus(node) == corev1.ConditionTrue
	got, err := c.set.Nodes().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("mark node %s unknown: %w", node.Name, err)
	}
	c.logger.Info("node stopped reporting", "node", node.Name)
	if wasReady {
		c.rec.Eventf(nodeRef(node), corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: %s", node.Name, "NodeNotReady")
	}
	return got, nil
}

// updateTaintsAndLabels writes the taints and labels the node should have.
func (c *Controller) updateTaintsAndLabels(ctx context.Context, node *corev1.Node, noExecute bool, now metav1.Time) error {
	taints, changed := reconcileTaints(node, desiredTaints(node, noExecute), now)
	next := node.DeepCopy()
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	if reconcileLabels(next) {
		changed = true
	}
	if !changed {
		return nil
	}
	next.Spec.Taints = taints
	if _, err := c.set.Nodes().Update(ctx, next, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update taints of node %s: %w", node.Name, err)
	}
	return nil
}

// markPodsNotReady sets Ready false on the node's pods that still say
// true, as upstream does for a node it lost contact with.
func (c *Controller) markPodsNotReady(ctx context.Context, node string, now metav1.Time) error {
	var errs []error
	for _, pod := range c.pods.on(node) {
		i := podReadyIndex(pod)
		if i < 0 || pod.Status.Conditions[i].Status != corev1.ConditionTrue {
			continue
		}
		p := pod.DeepCopy()
		p.Status.Conditions[i].Status = corev1.ConditionFalse
		p.Status.Conditions[i].LastTransitionTime = now
		if _, err := c.set.Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		c.rec.Event(p, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	return errors.Join(errs...)
}

func podReadyIndex(p *corev1.Pod) int {
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return i
		}
	}
	return -1
}

// disruption reports whether every node is not ready (upstream's full
// disruption: the control plane, not the nodes, is probably cut off, so no
// NoExecute taints). Entering or leaving the mode re-syncs every node;
// leaving it gives every node a fresh grace period.
func (c *Controller) disruption() bool {
	nodes, _ := c.nodes.List(labels.Everything())
	counted, ready := 0, 0
	for _, n := range nodes {
		if _, excluded := n.Labels[excludeDisruption]; excluded {
			continue
		}
		counted++
		if readyStatus(n) == corev1.ConditionTrue {
			ready++
		}
	}
	full := counted > 0 && ready == 0
	c.mu.Lock()
	changed := full != c.fullDisruption
	c.fullDisruption = full
	c.mu.Unlock()
	if changed {
		if full {
			c.logger.Warn("every node is not ready: entering full disruption mode, no NoExecute taints")
		} else {
			c.logger.Info("some nodes are ready: leaving full disruption mode")
			c.resetProbes()
		}
		for _, n := range nodes {
			c.queue.Add(n.Name)
		}
	}
	return full
}

// register records a node seen for the first time.
func (c *Controller) register(node *corev1.Node) {
	c.mu.Lock()
	_, seen := c.known[node.Name]
	c.known[node.Name] = node.UID
	c.mu.Unlock()
	if !seen {
		c.rec.Eventf(nodeRef(node), corev1.EventTypeNormal, "RegisteredNode", "Node %s event: Registered Node %s in Controller", node.Name, node.Name)
	}
}

// forget drops a deleted node.
func (c *Controller) forget(name string) {
	c.mu.Lock()
	uid, seen := c.known[name]
	delete(c.known, name)
	delete(c.health, name)
	c.mu.Unlock()
	if seen {
		ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name, UID: uid}
		c.rec.Eventf(ref, corev1.EventTypeNormal, "RemovingNode", "Node %s event: Removing Node %s from Controller", name, name)
	}
}

func nodeRef(n *corev1.Node) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: types.UID(n.UID)}
}

func (c *Controller) leaseOf(node string) (*coordinationv1.Lease, error) {
	o, ok, err := c.leaseInf.GetIndexer().GetByKey(corev1.NamespaceNodeLease + "/" + node)
	if err != nil || !ok {
		return nil, apierrors.NewNotFound(coordinationv1.Resource("leases"), node)
	}
	return o.(*coordinationv1.Lease), nil
}
