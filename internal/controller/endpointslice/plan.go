package endpointslice

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// plan is what one sync writes. Slices in create and update are fresh
// copies; those in delete are the cached objects (read only).
type plan struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

// plan works out the writes that make existing (the Service's slices)
// hold the desired endpoints of pods.
func (c *Controller) plan(svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice) *plan {
	p := &plan{}
	types := addressTypes(svc)
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if slices.Contains(types, s.AddressType) {
			byType[s.AddressType] = append(byType[s.AddressType], s)
		} else {
			p.delete = append(p.delete, s)
		}
	}
	total := 0
	desired := map[discoveryv1.AddressType]map[string]*portGroup{}
	for _, at := range types {
		desired[at] = c.desired(svc, pods, at)
		for _, g := range desired[at] {
			total += len(g.endpoints)
		}
	}
	if total == 0 {
		c.placeholder(svc, types[0], byType, p)
		return p
	}
	want := sliceLabels(svc)
	for _, at := range types {
		c.reconcileType(at, desired[at], byType[at], want, p)
	}
	return p
}

// placeholder keeps exactly one empty slice for a Service without
// endpoints, as upstream, so that consumers can tell the Service exists.
func (c *Controller) placeholder(svc *corev1.Service, at discoveryv1.AddressType, byType map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice, p *plan) {
	var keep *discoveryv1.EndpointSlice
	for _, list := range byType {
		for _, s := range list {
			if keep == nil && s.AddressType == at && len(s.Endpoints) == 0 && len(s.Ports) == 0 {
				keep = s
				continue
			}
			p.delete = append(p.delete, s)
		}
	}
	if keep == nil {
		p.create = append(p.create, &discoveryv1.EndpointSlice{AddressType: at, Endpoints: []discoveryv1.Endpoint{}, Ports: []discoveryv1.EndpointPort{}})
		return
	}
	if !maps.Equal(keep.Labels, sliceLabels(svc)) {
		p.update = append(p.update, keep.DeepCopy())
	}
}

// reconcileType plans one address type: unchanged endpoints stay where
// they are, changed ones are replaced in place, removed ones go, new ones
// fill slices being written anyway, then slices with room, then new
// slices. Slices whose port set is no longer wanted, or left empty, go.
func (c *Controller) reconcileType(at discoveryv1.AddressType, groups map[string]*portGroup,
	existing []*discoveryv1.EndpointSlice, wantLabels map[string]string, p *plan) {
	byPorts := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := portsKey(s.Ports)
		byPorts[k] = append(byPorts[k], s)
	}
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		list := byPorts[k]
		delete(byPorts, k)
		todo := maps.Clone(g.endpoints)
		var changed, roomy []*discoveryv1.EndpointSlice
		for _, s := range list {
			cp, dirty := keepWanted(s, todo)
			switch {
			case len(cp.Endpoints) == 0:
				p.delete = append(p.delete, s)
			case dirty || !maps.Equal(s.Labels, wantLabels):
				changed = append(changed, cp)
			case len(cp.Endpoints) < c.max:
				roomy = append(roomy, cp)
			}
		}
		fresh := make([]discoveryv1.Endpoint, 0, len(todo))
		for _, ek := range sortedKeys(todo) {
			fresh = append(fresh, todo[ek])
		}
		fresh = fill(changed, fresh, c.max)
		for _, s := range roomy {
			if len(fresh) == 0 {
				break
			}
			fresh = fill([]*discoveryv1.EndpointSlice{s}, fresh, c.max)
			changed = append(changed, s)
		}
		p.update = append(p.update, changed...)
		for len(fresh) > 0 {
			n := min(len(fresh), c.max)
			p.create = append(p.create, &discoveryv1.EndpointSlice{AddressType: at, Ports: g.ports, Endpoints: slices.Clone(fresh[:n])})
			fresh = fresh[n:]
		}
	}
	for _, k := range sortedKeys(byPorts) {
		p.delete = append(p.delete, byPorts[k]...)
	}
}

// keepWanted copies s keeping the endpoints still wanted (replaced by the
// wanted version when it differs) and takes them out of todo; it reports
// whether anything changed.
func keepWanted(s *discoveryv1.EndpointSlice, todo map[string]discoveryv1.Endpoint) (*discoveryv1.EndpointSlice, bool) {
	cp := s.DeepCopy()
	cp.Endpoints = cp.Endpoints[:0]
	dirty := false
	for _, ep := range s.Endpoints {
		k := endpointKey(ep)
		want, ok := todo[k]
		if !ok {
			dirty = true // removed, or a duplicate of one kept already
			continue
		}
		delete(todo, k)
		if !apiequality.Semantic.DeepEqual(ep, want) {
			dirty = true
		}
		cp.Endpoints = append(cp.Endpoints, want)
	}
	return cp, dirty
}

// fill adds endpoints from fresh to the slices up to max each and returns
// what did not fit.
func fill(into []*discoveryv1.EndpointSlice, fresh []discoveryv1.Endpoint, max int) []discoveryv1.Endpoint {
	for _, s := range into {
		n := min(max-len(s.Endpoints), len(fresh))
		if n <= 0 {
			continue
		}
		s.Endpoints = append(s.Endpoints, fresh[:n]...)
		fresh = fresh[n:]
	}
	return fresh
}
