package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/runtime"
)

// podCIDRSetter is a Network configured from the Node's pod CIDRs
// (*CNINetwork).
type podCIDRSetter interface {
	SetPodCIDRs(ctx context.Context, cidrs []netip.Prefix, keep func() (map[string]bool, error)) (bool, error)
}

// networkReady is nil when pods can be attached (always on simulated
// nodes), else why not.
func (a *Agent) networkReady() error {
	if r, ok := a.parts.Network.(interface{ Ready() error }); ok {
		return r.Ready()
	}
	return nil
}

// signalNode wakes the heartbeat loop to look at the Node again.
func (a *Agent) signalNode() {
	select {
	case a.nodeChanged <- struct{}{}:
	default:
	}
}

// nodeUpdated signals a change of the Node's pod CIDRs.
func (a *Agent) nodeUpdated(old, cur any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if !ok1 || !ok2 || o.Spec.PodCIDR != n.Spec.PodCIDR || len(o.Spec.PodCIDRs) != len(n.Spec.PodCIDRs) {
		a.signalNode()
	}
}

// podCIDRs are the Node's spec.podCIDRs (or podCIDR).
func podCIDRs(n *corev1.Node) []netip.Prefix {
	list := n.Spec.PodCIDRs
	if len(list) == 0 && n.Spec.PodCIDR != "" {
		list = []string{n.Spec.PodCIDR}
	}
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// configureNetwork gives a CNI network the Node's pod CIDRs once node IPAM
// has assigned them. It reports whether the network changed; pods waiting
// for it are synced at once.
func (a *Agent) configureNetwork(ctx context.Context) bool {
	setter, ok := a.parts.Network.(podCIDRSetter)
	if !ok {
		return false
	}
	node, ok := a.getNode()
	if !ok {
		return false
	}
	cidrs := podCIDRs(node)
	if len(cidrs) == 0 {
		return false
	}
	changed, err := setter.SetPodCIDRs(ctx, cidrs, a.sandboxIDs)
	if err != nil {
		a.log.Warn("pod network configuration", "err", err)
		return false
	}
	if changed {
		a.workers.enqueueAll()
	}
	return changed
}

// sandboxIDs are the sandboxes the runtime has.
func (a *Agent) sandboxIDs() (map[string]bool, error) {
	sbs, err := a.parts.Runtime.ListSandboxes(context.Background())
	if err != nil {
		return nil, err
	}
	keep := make(map[string]bool, len(sbs))
	for _, sb := range sbs {
		keep[sb.ID] = true
	}
	return keep, nil
}

// cleanupLeftovers removes, before the pod workers start, what an earlier
// run of the agent left that nothing will tear down: root file systems of
// containers the runtime no longer has, and pod folders (volumes, tmpfs
// mounts) of pods that are neither bound to the node nor have a sandbox.
// Sandboxes of deleted pods are torn down by their orphan workers, and
// network attachments without a sandbox when the network is configured.
func (a *Agent) cleanupLeftovers(ctx context.Context) error {
	sbs, err := a.parts.Runtime.ListSandboxes(ctx)
	if err != nil {
		return err
	}
	var errs []error
	if rs, ok := a.parts.Images.(Rootfs); ok {
		ctrs, err := a.parts.Runtime.ListContainers(ctx, runtime.ContainerFilter{})
		if err != nil {
			return err
		}
		used := map[string]bool{}
		for _, c := range ctrs {
			used[c.Annotations[annotationRootfs]] = true
		}
		n := 0
		for id := range rs.Containers() {
			if used[id] {
				continue
			}
			if err := rs.RemoveRootfs(id); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
		if n > 0 {
			a.log.Info("removed root file systems an earlier run left", "count", n)
		}
	}
	if v := a.parts.Volumes; v != nil {
		keep := map[types.UID]bool{}
		for _, sb := range sbs {
			keep[types.UID(sb.UID)] = true
		}
		for _, p := range a.src.pods() {
			keep[p.UID] = true
		}
		if a.static != nil {
			for _, p := range a.static.pods() {
				keep[p.UID] = true
			}
		}
		uids, err := v.PodUIDs()
		if err != nil {
			errs = append(errs, err)
		}
		for _, uid := range uids {
			if keep[uid] {
				continue
			}
			if err := v.Teardown(ctx, uid); err != nil {
				errs = append(errs, fmt.Errorf("pod %s: %w", uid, err))
			}
		}
	}
	return errors.Join(errs...)
}

// removeRootfs removes a container's root file system (after the
// container was removed).
func (a *Agent) removeRootfs(c *runtime.ContainerStatus) {
	rs, ok := a.parts.Images.(Rootfs)
	if !ok || c.Annotations[annotationRootfs] == "" {
		return
	}
	if err := rs.RemoveRootfs(c.Annotations[annotationRootfs]); err != nil {
		a.log.Warn("remove root file system", "container", c.Name, "err", err)
	}
}

// removeContainer removes one container and its root file system.
func (a *Agent) removeContainer(ctx context.Context, c *runtime.ContainerStatus) error {
	if err := a.parts.Runtime.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	a.removeRootfs(c)
	return nil
}

// removeSandbox removes a sandbox, its containers and their root file
// systems.
func (a *Agent) removeSandbox(ctx context.Context, id string) error {
	ctrs, err := a.parts.Runtime.ListContainers(ctx, runtime.ContainerFilter{SandboxID: id})
	if err != nil {
		return err
	}
	if err := a.parts.Runtime.RemoveSandbox(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	for i := range ctrs {
		a.removeRootfs(&ctrs[i])
	}
	return nil
}
