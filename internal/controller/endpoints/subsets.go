package endpoints

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Subsets computes the subsets of svc's Endpoints from its pods: one entry
// per pod and port set, repacked so that pods with the same resolved ports
// share a subset, sorted for a stable result.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	tolerateUnready := svc.Spec.PublishNotReadyAddresses
	family := ServiceFamily(svc)
	groups := map[string]*corev1.EndpointSubset{}
	add := func(ports []corev1.EndpointPort, a corev1.EndpointAddress, ready bool) {
		k := portsKey(ports)
		g, ok := groups[k]
		if !ok {
			g = &corev1.EndpointSubset{Ports: ports}
			groups[k] = g
		}
		if ready {
			g.Addresses = append(g.Addresses, a)
		} else {
			g.NotReadyAddresses = append(g.NotReadyAddresses, a)
		}
	}
	for _, pod := range pods {
		if !ShouldPodBeInEndpoints(pod, tolerateUnready) {
			continue
		}
		ip, ok := IPOfFamily(pod, family)
		if !ok {
			continue
		}
		a := address(svc, pod, ip)
		ready := tolerateUnready || IsPodReady(pod)
		if len(svc.Spec.Ports) == 0 {
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				add(nil, a, ready)
			}
			continue
		}
		var ports []corev1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, err := FindPort(pod, sp)
			if err != nil {
				continue
			}
			ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: n, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
		}
		if len(ports) > 0 {
			add(sortPorts(ports), a, ready)
		}
	}
	out := make([]corev1.EndpointSubset, 0, len(groups))
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		g := groups[k]
		sortAddresses(g.Addresses)
		sortAddresses(g.NotReadyAddresses)
		out = append(out, *g)
	}
	return out
}

// address is pod's entry in svc's Endpoints.
func address(svc *corev1.Service, pod *corev1.Pod, ip string) corev1.EndpointAddress {
	a := corev1.EndpointAddress{IP: ip, TargetRef: &corev1.ObjectReference{
		Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}}
	if pod.Spec.NodeName != "" {
		node := pod.Spec.NodeName
		a.NodeName = &node
	}
	if ShouldSetHostname(pod, svc) {
		a.Hostname = pod.Spec.Hostname
	}
	return a
}

func sortPorts(ps []corev1.EndpointPort) []corev1.EndpointPort {
	slices.SortFunc(ps, func(a, b corev1.EndpointPort) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
	})
	return ps
}

func portsKey(ps []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s/%d/%s;", p.Name, p.Port, p.Protocol)
	}
	return b.String()
}

func sortAddresses(as []corev1.EndpointAddress) {
	slices.SortFunc(as, func(a, b corev1.EndpointAddress) int {
		if c := cmp.Compare(a.IP, b.IP); c != 0 {
			return c
		}
		if a.TargetRef != nil && b.TargetRef != nil {
			return cmp.Compare(a.TargetRef.UID, b.TargetRef.UID)
		}
		return 0
	})
}

// truncate keeps at most MaxCapacity addresses, ready ones first, each
// subset keeping its share (rounded up) as upstream does; it reports
// whether anything was cut.
func truncate(ep *corev1.Endpoints) bool {
	ready, notReady := 0, 0
	for _, s := range ep.Subsets {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	if ready+notReady <= MaxCapacity {
		return false
	}
	cutReady := ready > MaxCapacity
	limit, total := MaxCapacity-ready, notReady
	if cutReady {
		limit, total = MaxCapacity, ready
	}
	left := limit
	for i := range ep.Subsets {
		s := &ep.Subsets[i]
		n := len(s.NotReadyAddresses)
		if cutReady {
			n = len(s.Addresses)
		}
		share := min(int(math.Ceil(float64(n)/float64(total)*float64(limit))), left)
		if cutReady {
			s.Addresses = s.Addresses[:min(len(s.Addresses), share)]
			s.NotReadyAddresses = nil
			left -= len(s.Addresses)
		} else {
			s.NotReadyAddresses = s.NotReadyAddresses[:min(len(s.NotReadyAddresses), share)]
			left -= len(s.NotReadyAddresses)
		}
	}
	return true
}
