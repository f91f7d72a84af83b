package discovery

import (
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Mapper maps resource names (plural, singular, short names, kinds) to
// REST mappings the way kubectl's mapper does: groups in discovery order
// with the core group first, each group's preferred version before its
// others, short names expanded (with kubectl's warning when a short name
// also matches a lower-priority resource). It is built on first use; a
// lookup that fails on cached discovery data refetches from the server and
// tries once more, so a resource created since the cache was written is
// found.
type Mapper struct {
	client *Client
	warn   func(string)

	mu       sync.Mutex
	delegate meta.RESTMapper
	lists    []*metav1.APIResourceList
}

var _ meta.ResettableRESTMapper = (*Mapper)(nil)

// NewMapper returns a mapper over c. warn receives kubectl's ambiguity
// warnings (without the "Warning: " prefix); it may be nil.
func NewMapper(c *Client, warn func(string)) *Mapper {
	return &Mapper{client: c, warn: warn}
}

// Reset forgets the mapping and the discovery data behind it.
func (m *Mapper) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.client.Invalidate()
	m.delegate, m.lists = nil, nil
}

func (m *Mapper) load() (meta.RESTMapper, []*metav1.APIResourceList, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.delegate != nil {
		return m.delegate, m.lists, nil
	}
	groups, lists, err := m.client.ServerGroupsAndResources()
	if groups == nil {
		return nil, nil, err
	}
	m.delegate, m.lists = buildMapper(groups, lists), lists
	return m.delegate, m.lists, nil
}

// retry runs fn on the mapper; when fn fails and the answer came from an
// older cache, it resets and runs fn once more on fresh data.
func (m *Mapper) retry(fn func(d meta.RESTMapper, lists []*metav1.APIResourceList) error) error {
	d, lists, err := m.load()
	if err != nil {
		return err
	}
	if err = fn(d, lists); err == nil || m.client.Fresh() {
		return err
	}
	m.Reset()
	if d, lists, err = m.load(); err != nil {
		return err
	}
	return fn(d, lists)
}

// KindFor returns the kind of the best match for resource.
func (m *Mapper) KindFor(resource schema.GroupVersionResource) (out schema.GroupVersionKind, err error) {
	err = m.retry(func(d meta.RESTMapper, lists []*metav1.APIResourceList) (e error) {
		out, e = d.KindFor(m.expand(lists, resource))
		return e
	})
	return out, err
}

// KindsFor returns every kind matching resource, best first.
func (m *Mapper) KindsFor(resource schema.GroupVersionResource) (out []schema.GroupVersionKind, err error) {
	err = m.retry(func(d meta.RESTMapper, lists []*metav1.APIResourceList) (e error) {
		out, e = d.KindsFor(m.expand(lists, resource))
		return nonEmpty(len(out), e, resource)
	})
	return out, err
}

// ResourceFor returns the best match for resource.
func (m *Mapper) ResourceFor(resource schema.GroupVersionResource) (out schema.GroupVersionResource, err error) {
	err = m.retry(func(d meta.RESTMapper, lists []*metav1.APIResourceList) (e error) {
		out, e = d.ResourceFor(m.expand(lists, resource))
		return e
	})
	return out, err
}

// ResourcesFor returns every resource matching resource, best first.
func (m *Mapper) ResourcesFor(resource schema.GroupVersionResource) (out []schema.GroupVersionResource, err error) {
	err = m.retry(func(d meta.RESTMapper, lists []*metav1.APIResourceList) (e error) {
		out, e = d.ResourcesFor(m.expand(lists, resource))
		return nonEmpty(len(out), e, resource)
	})
	return out, err
}

// RESTMapping returns the mapping of a kind in the first of versions that
// has it (any version when none is given, preferred first).
func (m *Mapper) RESTMapping(gk schema.GroupKind, versions ...string) (out *meta.RESTMapping, err error) {
	err = m.retry(func(d meta.RESTMapper, _ []*metav1.APIResourceList) (e error) {
		out, e = d.RESTMapping(gk, versions...)
		return e
	})
	return out, err
}

// RESTMappings returns every mapping of a kind.
func (m *Mapper) RESTMappings(gk schema.GroupKind, versions ...string) (out []*meta.RESTMapping, err error) {
	err = m.retry(func(d meta.RESTMapper, _ []*metav1.APIResourceList) (e error) {
		out, e = d.RESTMappings(gk, versions...)
		return e
	})
	return out, err
}

// ResourceSingularizer returns the singular name of a resource.
func (m *Mapper) ResourceSingularizer(resource string) (out string, err error) {
	err = m.retry(func(d meta.RESTMapper, lists []*metav1.APIResourceList) (e error) {
		out, e = d.ResourceSingularizer(m.expand(lists, schema.GroupVersionResource{Resource: resource}).Resource)
		return e
	})
	return out, err
}

func nonEmpty(n int, err error, resource schema.GroupVersionResource) error {
	if err == nil && n == 0 {
		return &meta.NoResourceMatchError{PartialResource: resource}
	}
	return err
}

// buildMapper orders the per-version mappers by priority: core v1 first,
// then each group's preferred version in discovery order, then its other
// versions, then any version of each group.
func buildMapper(groups []*metav1.APIGroup, lists []*metav1.APIResourceList) meta.RESTMapper {
	byGV := map[string]*metav1.APIResourceList{}
	for _, l := range lists {
		byGV[l.GroupVersion] = l
	}
	var multi meta.MultiRESTMapper
	resPrio := []schema.GroupVersionResource{{Version: "v1", Resource: meta.AnyResource}}
	kindPrio := []schema.GroupVersionKind{{Version: "v1", Kind: meta.AnyKind}}
	addPrio := func(gv schema.GroupVersion) {
		resPrio = append(resPrio, gv.WithResource(meta.AnyResource))
		kindPrio = append(kindPrio, gv.WithKind(meta.AnyKind))
	}
	for _, g := range groups {
		if _, ok := byGV[g.PreferredVersion.GroupVersion]; ok && g.PreferredVersion.Version != "" {
			addPrio(schema.GroupVersion{Group: g.Name, Version: g.PreferredVersion.Version})
		}
		for _, v := range g.Versions {
			l, ok := byGV[v.GroupVersion]
			if !ok {
				continue
			}
			gv := schema.GroupVersion{Group: g.Name, Version: v.Version}
			if v.Version != g.PreferredVersion.Version {
				addPrio(gv)
			}
			multi = append(multi, versionMapper(gv, l.APIResources))
		}
	}
	for _, g := range groups {
		addPrio(schema.GroupVersion{Group: g.Name, Version: meta.AnyVersion})
	}
	return meta.PriorityRESTMapper{Delegate: multi, ResourcePriority: resPrio, KindPriority: kindPrio}
}

func versionMapper(gv schema.GroupVersion, resources []metav1.APIResource) *meta.DefaultRESTMapper {
	vm := meta.NewDefaultRESTMapper([]schema.GroupVersion{gv})
	for _, r := range resources {
		if strings.Contains(r.Name, "/") {
			continue
		}
		scope := meta.RESTScopeRoot
		if r.Namespaced {
			scope = meta.RESTScopeNamespace
		}
		plural, singular := gv.WithResource(r.Name), gv.WithResource(r.SingularName)
		if r.SingularName == "" {
			_, singular = meta.UnsafeGuessKindToResource(gv.WithKind(r.Kind))
		}
		vm.AddSpecific(gv.WithKind(strings.ToLower(r.Kind)), plural, singular, scope)
		vm.AddSpecific(gv.WithKind(r.Kind), plural, singular, scope)
		vm.Add(gv.WithKind(r.Kind+"List"), scope)
	}
	vm.Add(gv.WithKind("List"), meta.RESTScopeRoot)
	return vm
}

// expand replaces a short name (`po`, `deploy`, `hpa`) by its resource.
// A name that is some resource's plural or singular is left alone. The
// first group (in discovery order) with the short name wins; the others get
// kubectl's warning. A group given as a prefix (`deploy.apps`) also matches.
func (m *Mapper) expand(lists []*metav1.APIResourceList, in schema.GroupVersionResource) schema.GroupVersionResource {
	type shortcut struct{ short, long schema.GroupResource }
	var shortcuts []shortcut
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if in.Group == "" || in.Group == gv.Group {
				if in.Resource == r.Name || in.Resource == r.SingularName {
					return in
				}
			}
			for _, s := range r.ShortNames {
				shortcuts = append(shortcuts, shortcut{schema.GroupResource{Group: gv.Group, Resource: s}, schema.GroupResource{Group: gv.Group, Resource: r.Name}})
			}
		}
	}
	var found *schema.GroupResource
	warned := map[schema.GroupResource]bool{}
	for i, s := range shortcuts {
		if (in.Group != "" && in.Group != s.short.Group) || in.Resource != s.short.Resource {
			continue
		}
		if found == nil {
			found = &shortcuts[i].long
			continue
		}
		if s.long != *found && !warned[s.long] && m.warn != nil {
			m.warn(fmt.Sprintf("short name %q could also match lower priority resource %s", in.Resource, s.long.String()))
		}
		warned[s.long] = true
	}
	if found != nil {
		return schema.GroupVersionResource{Group: found.Group, Resource: found.Resource}
	}
	if in.Group == "" {
		return in
	}
	for _, s := range shortcuts {
		if strings.HasPrefix(s.short.Group, in.Group) && in.Resource == s.short.Resource {
			in.Group, in.Resource = s.long.Group, s.long.Resource
			return in
		}
	}
	return in
}
