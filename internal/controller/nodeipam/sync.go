package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// sync gives node name a subnet if it has none, or frees the subnet of a
// deleted node.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		c.releaseNode(name)
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	if h, ok := c.byNode[node.Name]; ok {
		switch {
		case h.uid != node.UID:
			// The node was deleted and re-created under the same name
			// before the deletion was processed: the old object's subnet
			// is free; the new object gets its own below.
			c.cidrs.release(h.index)
			delete(c.byNode, node.Name)
			c.logger.Info("node re-created; released the old object's pod cidr", "node", node.Name, "cidr", c.cidrs.subnet(h.index).String())
			defer c.wakeWaiting()
		case node.Spec.PodCIDR == "":
			// Assigned by an earlier sync; the cache has not caught up.
			c.mu.Unlock()
			return nil
		}
	}
	if c.occupyLocked(node) {
		c.mu.Unlock()
		return nil
	}
	i, ok := c.cidrs.allocate()
	if !ok {
		c.waiting = true
	}
	c.mu.Unlock()
	if !ok {
		c.rec.Eventf(nodeRef(node), corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s status is now: %s", node.Name, "CIDRNotAvailable")
		return nil // a node deletion frees a subnet and wakes the waiting
	}
	cidr := c.cidrs.subnet(i).String()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	_, err = c.set.Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		c.mu.Lock()
		c.cidrs.release(i)
		c.mu.Unlock()
		if apierrors.IsNotFound(err) {
			return nil
		}
		c.rec.Eventf(nodeRef(node), corev1.EventTypeNormal, "CIDRAssignmentFailed", "Node %s status is now: %s", node.Name, "CIDRAssignmentFailed")
		return fmt.Errorf("assign %s to node %s: %w", cidr, node.Name, err)
	}
	c.mu.Lock()
	c.byNode[node.Name] = held{i, node.UID}
	c.mu.Unlock()
	c.logger.Info("assigned pod cidr", "node", node.Name, "cidr", cidr)
	return nil
}

// releaseNode frees the subnet of a deleted node and wakes nodes waiting
// for one.
func (c *Controller) releaseNode(name string) {
	c.mu.Lock()
	h, ok := c.byNode[name]
	delete(c.byNode, name)
	if ok {
		c.cidrs.release(h.index)
	}
	c.mu.Unlock()
	if ok {
		c.wakeWaiting()
	}
}

// wakeWaiting queues the nodes without a subnet when one waits for a
// subnet to be freed.
func (c *Controller) wakeWaiting() {
	c.mu.Lock()
	wake := c.waiting
	c.waiting = false
	c.mu.Unlock()
	if !wake {
		return
	}
	nodes, _ := c.nodes.List(labels.Everything())
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			c.queue.Add(n.Name)
		}
	}
}

func nodeRef(n *corev1.Node) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
}
