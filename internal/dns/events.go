package dns

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Informer event handlers: each turns an object into its compact form and
// stores it in the index. Handlers never keep or change the informers'
// objects.

func (s *Server) handlers() []registration {
	regs := []registration{
		{s.inf.Namespaces(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { s.onNamespace(o, true) },
			UpdateFunc: func(_, o any) { s.onNamespace(o, true) },
			DeleteFunc: func(o any) { s.onNamespace(o, false) },
		}},
		{s.inf.Services(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { s.onService(o, true) },
			UpdateFunc: func(_, o any) { s.onService(o, true) },
			DeleteFunc: func(o any) { s.onService(o, false) },
		}},
		{s.inf.EndpointSlices(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { s.onSlice(o, true) },
			UpdateFunc: func(_, o any) { s.onSlice(o, true) },
			DeleteFunc: func(o any) { s.onSlice(o, false) },
		}},
	}
	if s.cfg.Pods == PodsVerified {
		regs = append(regs, registration{s.inf.Pods(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { s.onPod(nil, o) },
			UpdateFunc: func(old, o any) { s.onPod(old, o) },
			DeleteFunc: func(o any) { s.onPod(o, nil) },
		}})
	}
	return regs
}

type registration struct {
	inf cache.SharedIndexInformer
	h   cache.ResourceEventHandler
}

// unwrap returns the object of a delete event, which may be a tombstone.
func unwrap(o any) any {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return o
}

func (s *Server) onNamespace(o any, exists bool) {
	if ns, ok := unwrap(o).(*corev1.Namespace); ok {
		s.idx.setNamespace(ns.Name, exists)
	}
}

func (s *Server) onService(o any, exists bool) {
	svc, ok := unwrap(o).(*corev1.Service)
	if !ok {
		return
	}
	k := svcKey{svc.Namespace, svc.Name}
	if !exists {
		s.idx.setService(k, nil)
		return
	}
	s.idx.setService(k, toService(svc))
}

func (s *Server) onSlice(o any, exists bool) {
	es, ok := unwrap(o).(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	k, ok := sliceOwner(es)
	if !ok {
		return
	}
	if !exists {
		s.idx.setSlice(k, es.Name, nil)
		return
	}
	s.idx.setSlice(k, es.Name, toSlice(es))
}

func (s *Server) onPod(old, cur any) {
	var ns string
	var before, after []netip.Addr
	if p, ok := unwrap(old).(*corev1.Pod); ok {
		ns, before = p.Namespace, podAddrs(p)
	}
	if p, ok := unwrap(cur).(*corev1.Pod); ok {
		ns, after = p.Namespace, podAddrs(p)
	}
	if ns != "" && !equalAddrs(before, after) {
		s.idx.setPod(ns, before, after)
	}
}

func podAddrs(p *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out = append(out, a.Unmap())
		}
	}
	if len(out) == 0 && p.Status.PodIP != "" {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

func equalAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
