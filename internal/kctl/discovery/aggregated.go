package discovery

import (
	"fmt"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// splitAggregated turns an aggregated discovery document into the legacy
// shapes: the groups (preferred version = first listed), each group
// version's resource list (a subresource follows its parent as
// `parent/sub`), and the group versions marked Stale.
func splitAggregated(agg *apidiscoveryv2.APIGroupDiscoveryList) ([]metav1.APIGroup, map[schema.GroupVersion]*metav1.APIResourceList, map[schema.GroupVersion]error) {
	var groups []metav1.APIGroup
	resources := map[schema.GroupVersion]*metav1.APIResourceList{}
	failed := map[schema.GroupVersion]error{}
	for _, ag := range agg.Items {
		g := metav1.APIGroup{Name: ag.Name}
		for _, v := range ag.Versions {
			gv := schema.GroupVersion{Group: ag.Name, Version: v.Version}
			if v.Freshness == apidiscoveryv2.DiscoveryFreshnessStale {
				failed[gv] = fmt.Errorf("stale GroupVersion discovery: %v", gv)
				continue
			}
			gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: v.Version}
			g.Versions = append(g.Versions, gvd)
			if g.PreferredVersion.Version == "" {
				g.PreferredVersion = gvd
			}
			list := &metav1.APIResourceList{GroupVersion: gv.String()}
			for _, r := range v.Resources {
				parent, ok := resourceOf(r)
				if ok {
					list.APIResources = append(list.APIResources, parent)
				}
				for _, sub := range r.Subresources {
					if s, ok := subresourceOf(parent, sub); ok {
						list.APIResources = append(list.APIResources, s)
					}
				}
			}
			resources[gv] = list
		}
		groups = append(groups, g)
	}
	return groups, resources, failed
}

// resourceOf converts one aggregated resource; one without a response kind
// is dropped, as client-go drops it.
func resourceOf(in apidiscoveryv2.APIResourceDiscovery) (metav1.APIResource, bool) {
	out := metav1.APIResource{
		Name:         in.Resource,
		SingularName: in.SingularResource,
		Namespaced:   in.Scope == apidiscoveryv2.ScopeNamespace,
		Verbs:        in.Verbs,
		ShortNames:   in.ShortNames,
		Categories:   in.Categories,
	}
	if in.ResponseKind == nil || *in.ResponseKind == (metav1.GroupVersionKind{}) {
		return out, false
	}
	out.Group, out.Version, out.Kind = in.ResponseKind.Group, in.ResponseKind.Version, in.ResponseKind.Kind
	return out, true
}

func subresourceOf(parent metav1.APIResource, in apidiscoveryv2.APISubresourceDiscovery) (metav1.APIResource, bool) {
	if in.ResponseKind == nil || *in.ResponseKind == (metav1.GroupVersionKind{}) {
		return metav1.APIResource{}, false
	}
	return metav1.APIResource{
		Name:         parent.Name + "/" + in.Subresource,
		SingularName: parent.SingularName,
		Namespaced:   parent.Namespaced,
		Group:        in.ResponseKind.Group,
		Version:      in.ResponseKind.Version,
		Kind:         in.ResponseKind.Kind,
		Verbs:        in.Verbs,
	}, true
}
