package endpointslice

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/controller/endpoints"
)

// portGroup is the desired endpoints sharing one port set.
type portGroup struct {
	ports     []discoveryv1.EndpointPort
	endpoints map[string]discoveryv1.Endpoint // by endpointKey
}

// addressTypes are the slice address types a Service gets.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		out = append(out, familyType(f))
	}
	if len(out) == 0 {
		if f := endpoints.ServiceFamily(svc); f != "" {
			out = append(out, familyType(f))
		} else {
			out = append(out, discoveryv1.AddressTypeIPv4)
		}
	}
	return out
}

func familyType(f corev1.IPFamily) discoveryv1.AddressType {
	if f == corev1.IPv6Protocol {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

func typeFamily(t discoveryv1.AddressType) corev1.IPFamily {
	if t == discoveryv1.AddressTypeIPv6 {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// desired computes the endpoints of svc's pods of one address type, by
// port set.
func (c *Controller) desired(svc *corev1.Service, pods []*corev1.Pod, at discoveryv1.AddressType) map[string]*portGroup {
	groups := map[string]*portGroup{}
	for _, pod := range pods {
		if !endpoints.ShouldPodBeInEndpoints(pod, true) {
			continue
		}
		ip, ok := endpoints.IPOfFamily(pod, typeFamily(at))
		if !ok {
			continue
		}
		ports := slicePorts(svc, pod)
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &portGroup{ports: ports, endpoints: map[string]discoveryv1.Endpoint{}}
			groups[k] = g
		}
		ep := c.endpointOf(svc, pod, ip)
		g.endpoints[endpointKey(ep)] = ep
	}
	return groups
}

func (c *Controller) endpointOf(svc *corev1.Service, pod *corev1.Pod, ip string) discoveryv1.Endpoint {
	terminating := pod.DeletionTimestamp != nil
	serving := endpoints.IsPodReady(pod)
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = ptr.To(pod.Spec.NodeName)
		if node, err := c.nodes.Get(pod.Spec.NodeName); err == nil {
			if z := node.Labels[corev1.LabelTopologyZone]; z != "" {
				ep.Zone = ptr.To(z)
			}
		}
	}
	if endpoints.ShouldSetHostname(pod, svc) {
		ep.Hostname = ptr.To(pod.Spec.Hostname)
	}
	return ep
}

// slicePorts resolves every service port on pod (ports that do not
// resolve are left out, as upstream).
func slicePorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		n, err := endpoints.FindPort(pod, sp)
		if err != nil {
			continue
		}
		proto := sp.Protocol
		out = append(out, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(n), Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	return out
}

func portsKey(ps []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s/%d/%s;", ptr.Deref(p.Name, ""), ptr.Deref(p.Port, 0), ptr.Deref(p.Protocol, ""))
	}
	return b.String()
}

// endpointKey identifies an endpoint across syncs: its pod and address.
func endpointKey(ep discoveryv1.Endpoint) string {
	k := strings.Join(ep.Addresses, ",")
	if ep.TargetRef != nil {
		k = ep.TargetRef.Namespace + "/" + ep.TargetRef.Name + "@" + k
	}
	return k
}
