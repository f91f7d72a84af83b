package registry

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Registry is the catalog of every served resource. It is built once by New
// and never changes afterwards, so it may be shared by any number of
// goroutines.
type Registry struct {
	groups []Group
	byGVR  map[schema.GroupVersionResource]*Resource
	byGVK  map[schema.GroupVersionKind]*Resource
	// byGV lists each group/version's resources sorted by plural name, the
	// order upstream discovery uses.
	byGV map[schema.GroupVersion][]*Resource
}

// Group is one served API group with its versions, the preferred version
// first (the order /apis and aggregated discovery list them in).
type Group struct {
	Name     string // "" for the core group
	Versions []string
}

// PreferredVersion is the version clients use when none is named.
func (g Group) PreferredVersion() string { return g.Versions[0] }

// New builds the catalog of every group/version/resource that upstream
// kube-apiserver of the version we build against serves by default.
func New() *Registry {
	r := &Registry{
		byGVR: map[schema.GroupVersionResource]*Resource{},
		byGVK: map[schema.GroupVersionKind]*Resource{},
		byGV:  map[schema.GroupVersion][]*Resource{},
	}
	for _, g := range catalogGroups() {
		group := Group{Name: g.name}
		for _, v := range g.versions {
			gv := schema.GroupVersion{Group: g.name, Version: v.version}
			group.Versions = append(group.Versions, v.version)
			for _, res := range v.resources {
				res.GroupVersion = gv
				if res.StorageVersion.Empty() {
					res.StorageVersion = gv
				}
				for i := range res.Subresources {
					if k := &res.Subresources[i].Kind; k.Version == "" {
						k.Group, k.Version = gv.Group, gv.Version
					}
				}
				if res.Strategy == nil {
					res.Strategy = newGenericStrategy(res.Namespaced, hasSubresource(res, "status"))
				}
				r.byGVR[res.GroupVersionResource()] = res
				if _, dup := r.byGVK[res.GroupVersionKind()]; !dup {
					r.byGVK[res.GroupVersionKind()] = res
				}
				r.byGV[gv] = append(r.byGV[gv], res)
			}
			list := r.byGV[gv]
			sort.Slice(list, func(i, j int) bool { return list[i].Resource < list[j].Resource })
		}
		r.groups = append(r.groups, group)
	}
	return r
}

// Groups returns the served groups in discovery order: the core group ""
// first (served under /api), then the named groups in the order /apis lists
// them. The caller must not modify the result.
func (r *Registry) Groups() []Group { return r.groups }

// Resources returns the resources of one group/version sorted by plural
// name, as discovery lists them; nil if gv is not served.
func (r *Registry) Resources(gv schema.GroupVersion) []*Resource { return r.byGV[gv] }

// Lookup finds a resource by group, version and plural name.
func (r *Registry) Lookup(gvr schema.GroupVersionResource) (*Resource, bool) {
	res, ok := r.byGVR[gvr]
	return res, ok
}

// LookupKind finds the resource that serves a kind in a group/version. For
// a kind served by several resources of one group/version the first in
// catalog order wins (none of the built-in kinds is).
func (r *Registry) LookupKind(gvk schema.GroupVersionKind) (*Resource, bool) {
	res, ok := r.byGVK[gvk]
	return res, ok
}

// Find resolves a name as a user types it ("po", "pods", "pod",
// "deployments.apps", "deploy.v1.apps") to resources in the preferred
// version of their group, in discovery order (core first, then /apis order),
// the way kubectl's RESTMapper does. Matching is case-insensitive.
func (r *Registry) Find(name string) []*Resource {
	name = strings.ToLower(name)
	resource, version, group := splitQualified(name, r)
	var out []*Resource
	for _, g := range r.groups {
		if group != nil && *group != g.Name {
			continue
		}
		v := g.PreferredVersion()
		if version != "" {
			v = version
		}
		for _, res := range r.byGV[schema.GroupVersion{Group: g.Name, Version: v}] {
			if res.matchesName(resource) {
				out = append(out, res)
			}
		}
	}
	return out
}

// All returns every served resource in discovery order.
func (r *Registry) All() []*Resource {
	var out []*Resource
	for _, g := range r.groups {
		for _, v := range g.Versions {
			out = append(out, r.byGV[schema.GroupVersion{Group: g.Name, Version: v}]...)
		}
	}
	return out
}

// splitQualified splits "deploy", "deployments.apps" or
// "deployments.v1.apps" into resource, version and group (nil when none was
// given). A dotted suffix counts as a group only when such a group is
// served, so names themselves never contain dots.
func splitQualified(name string, r *Registry) (string, string, *string) {
	resource, rest, found := strings.Cut(name, ".")
	if !found {
		return name, "", nil
	}
	if version, group, ok := strings.Cut(rest, "."); ok && r.servesGroupVersion(group, version) {
		return resource, version, &group
	}
	if r.servesGroup(rest) {
		return resource, "", &rest
	}
	return name, "", nil
}

func (r *Registry) servesGroup(name string) bool {
	for _, g := range r.groups {
		if g.Name == name {
			return true
		}
	}
	return false
}

func (r *Registry) servesGroupVersion(group, version string) bool {
	_, ok := r.byGV[schema.GroupVersion{Group: group, Version: version}]
	return ok
}

func (res *Resource) matchesName(name string) bool {
	if res.Resource == name || res.SingularName == name || strings.ToLower(res.Kind) == name {
		return true
	}
	for _, s := range res.ShortNames {
		if s == name {
			return true
		}
	}
	return false
}

func hasSubresource(res *Resource, name string) bool {
	for _, s := range res.Subresources {
		if s.Name == name {
			return true
		}
	}
	return false
}

// Subresource returns the named subresource of res, if it has one.
func (r *Resource) Subresource(name string) (Subresource, bool) {
	for _, s := range r.Subresources {
		if s.Name == name {
			return s, true
		}
	}
	return Subresource{}, false
}

// HasVerb reports whether discovery lists verb for res.
func (r *Resource) HasVerb(verb string) bool {
	for _, v := range r.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}
