package servicelb

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// sync brings one Service's load-balancer status in line with the nodes.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // nothing outside the API to release
	}
	if err != nil {
		return err
	}
	switch {
	case svc.Spec.Type != corev1.ServiceTypeLoadBalancer:
		// No longer a load balancer: its addresses go, as upstream's
		// service controller clears them.
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return nil
		}
		if err := c.writeStatus(ctx, svc, nil); err != nil {
			return err
		}
		c.rec.Event(svc, corev1.EventTypeNormal, "DeletedLoadBalancer", "Deleted load balancer")
		return nil
	case !Ours(svc):
		return nil
	}
	want, err := c.addresses(svc)
	if err != nil {
		return err
	}
	have := ips(svc.Status.LoadBalancer.Ingress)
	if slices.Equal(have, want) && viaVIP(svc.Status.LoadBalancer.Ingress) {
		return nil
	}
	if err := c.writeStatus(ctx, svc, want); err != nil {
		return err
	}
	if len(have) == 0 && len(want) > 0 {
		c.rec.Event(svc, corev1.EventTypeNormal, "EnsuringLoadBalancer", "Ensuring load balancer")
		c.rec.Event(svc, corev1.EventTypeNormal, "EnsuredLoadBalancer", "Ensured load balancer")
	}
	if len(want) == 0 {
		c.rec.Event(svc, corev1.EventTypeWarning, "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
	} else {
		c.rec.Eventf(svc, corev1.EventTypeNormal, "UpdatedLoadBalancer", "Updated LoadBalancer with new IPs: %v -> %v", have, want)
	}
	c.logger.Info("load balancer addresses", "namespace", ns, "service", name, "ips", want)
	return nil
}

// Ours reports whether this controller serves a Service's load balancer:
// no loadBalancerClass, or Class.
func Ours(svc *corev1.Service) bool {
	return svc.Spec.LoadBalancerClass == nil || *svc.Spec.LoadBalancerClass == Class
}

// writeStatus replaces the Service's ingress list with ips (VIP mode: the
// nodes' proxies take the traffic).
func (c *Controller) writeStatus(ctx context.Context, svc *corev1.Service, ips []string) error {
	upd := svc.DeepCopy()
	upd.Status.LoadBalancer.Ingress = nil
	for _, ip := range ips {
		mode := corev1.LoadBalancerIPModeVIP
		upd.Status.LoadBalancer.Ingress = append(upd.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip, IPMode: &mode})
	}
	_, err := c.set.Services(svc.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update load balancer status of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return nil
}

// addresses are the ingress IPs the Service should have now.
func (c *Controller) addresses(svc *corev1.Service) ([]string, error) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var local map[string]bool
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		if local, err = c.readyNodes(svc); err != nil {
			return nil, err
		}
	}
	held, err := c.nodesFor(svc, nodes)
	if err != nil {
		return nil, err
	}
	var internal, external []netip.Addr
	for _, n := range nodes {
		if !held[n.Name] || (local != nil && !local[n.Name]) {
			continue
		}
		for _, a := range n.Status.Addresses {
			ip, err := netip.ParseAddr(a.Address)
			if err != nil {
				continue
			}
			switch a.Type {
			case corev1.NodeExternalIP:
				external = append(external, ip)
			case corev1.NodeInternalIP:
				internal = append(internal, ip)
			}
		}
	}
	return byFamily(preferExternal(internal, external), svc.Spec.IPFamilies), nil
}

// preferExternal picks, per address family, the external addresses when
// any chosen node has one of that family, else the internal ones. k3s
// makes the choice across families, so a node with only an IPv6
// --node-external-ip would leave an IPv4 Service without any address;
// per family, it keeps its IPv4 InternalIPs.
func preferExternal(internal, external []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, v4 := range []bool{true, false} {
		of := func(addrs []netip.Addr) []netip.Addr {
			return slices.DeleteFunc(slices.Clone(addrs), func(a netip.Addr) bool { return a.Unmap().Is4() != v4 })
		}
		if ext := of(external); len(ext) > 0 {
			out = append(out, ext...)
		} else {
			out = append(out, of(internal)...)
		}
	}
	return out
}

// port is what a load balancer holds on each node it uses.
type port struct {
	proto corev1.Protocol
	port  int32
}

// nodesFor names the nodes that carry svc's load balancer. A node serves
// one Service per protocol and port, as k3s's hostPort pods do: the
// oldest Service (then the first by namespace/name) holds a node for its
// ports, and a newer Service with any of the same ports does without that
// node.
func (c *Controller) nodesFor(svc *corev1.Service, nodes []*corev1.Node) (map[string]bool, error) {
	all, err := c.services.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var lbs []*corev1.Service
	for _, s := range all {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer && Ours(s) && !younger(s, svc) {
			lbs = append(lbs, s)
		}
	}
	slices.SortFunc(lbs, func(a, b *corev1.Service) int {
		if younger(a, b) {
			return 1
		}
		if younger(b, a) {
			return -1
		}
		return 0
	})
	restrict := slices.ContainsFunc(nodes, func(n *corev1.Node) bool { _, ok := n.Labels[EnableLabel]; return ok })
	holder := map[string]map[port]bool{} // node → ports held there
	for _, s := range lbs {
		got := map[string]bool{}
		for _, n := range nodes {
			if !eligible(n, restrict, s.Labels[PoolLabel]) || holdsAny(holder[n.Name], s) {
				continue
			}
			got[n.Name] = true
			if holder[n.Name] == nil {
				holder[n.Name] = map[port]bool{}
			}
			for _, p := range s.Spec.Ports {
				holder[n.Name][port{p.Protocol, p.Port}] = true
			}
		}
		if s.UID == svc.UID {
			return got, nil
		}
	}
	return nil, nil // not in the cache any more
}

func holdsAny(held map[port]bool, s *corev1.Service) bool {
	for _, p := range s.Spec.Ports {
		if held[port{p.Protocol, p.Port}] {
			return true
		}
	}
	return false
}

// younger orders Services by creation, then namespace/name.
func younger(a, b *corev1.Service) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name > b.Namespace+"/"+b.Name
}

// eligible reports whether node n may carry load-balancer addresses.
func eligible(n *corev1.Node, restrict bool, pool string) bool {
	if n.DeletionTimestamp != nil || !ready(n) {
		return false
	}
	if _, ok := n.Labels[ExcludeLabel]; ok {
		return false
	}
	if restrict {
		if n.Labels[EnableLabel] != "true" {
			return false
		}
		if pool != "" && n.Labels[PoolLabel] != pool {
			return false
		}
	}
	return true
}

// readyNodes are the nodes running a ready Pod endpoint of the Service.
func (c *Controller) readyNodes(svc *corev1.Service) (map[string]bool, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name})
	sls, err := c.slices.EndpointSlices(svc.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, s := range sls {
		for _, e := range s.Endpoints {
			isPod := e.TargetRef != nil && e.TargetRef.Kind == "Pod"
			if isPod && e.NodeName != nil && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
				out[*e.NodeName] = true
			}
		}
	}
	return out, nil
}

// byFamily keeps the addresses of the Service's IP families, each family
// sorted and unique, in the order of spec.ipFamilies (IPv4 when unset).
func byFamily(addrs []netip.Addr, families []corev1.IPFamily) []string {
	if len(families) == 0 {
		families = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	addrs = slices.Compact(addrs)
	var out []string
	for _, f := range families {
		for _, a := range addrs {
			if (f == corev1.IPv4Protocol) == a.Unmap().Is4() {
				out = append(out, a.Unmap().String())
			}
		}
	}
	return out
}

// ips lists the ingress addresses in order (hostnames as they are).
func ips(ing []corev1.LoadBalancerIngress) []string {
	var out []string
	for _, i := range ing {
		if i.IP != "" {
			out = append(out, i.IP)
		} else {
			out = append(out, i.Hostname)
		}
	}
	return out
}

// viaVIP reports whether every ingress entry says the proxy takes its
// traffic (unset means VIP, as the API server defaults it).
func viaVIP(ing []corev1.LoadBalancerIngress) bool {
	for _, i := range ing {
		if i.IPMode != nil && *i.IPMode != corev1.LoadBalancerIPModeVIP || len(i.Ports) > 0 {
			return false
		}
	}
	return true
}
