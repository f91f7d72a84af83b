package client

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is one resource the server serves, in its group's preferred
// version.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	Verbs      []string
}

// Has reports whether the resource supports every verb given.
func (r Resource) Has(verbs ...string) bool {
	for _, v := range verbs {
		if !slices.Contains(r.Verbs, v) {
			return false
		}
	}
	return true
}

// Resources is what discovery found: every served resource (subresources
// left out) in its group's preferred version, core group first.
type Resources []Resource

// ForKind finds the resource of a group and kind (the version of an owner
// reference's apiVersion does not matter: every version of a resource holds
// the same objects).
func (rs Resources) ForKind(gk schema.GroupKind) (Resource, bool) {
	for _, r := range rs {
		if r.GVR.Group == gk.Group && r.Kind == gk.Kind {
			return r, true
		}
	}
	return Resource{}, false
}

// ForResource finds a resource by group and plural name.
func (rs Resources) ForResource(gr schema.GroupResource) (Resource, bool) {
	for _, r := range rs {
		if r.GVR.Group == gr.Group && r.GVR.Resource == gr.Resource {
			return r, true
		}
	}
	return Resource{}, false
}

// ServerResources asks the server's discovery documents (/api/v1, /apis and
// each group's preferred version) which resources it serves. kserver's set
// of resources is fixed for the life of a server, so components call this
// once when they start.
func (s *Set) ServerResources(ctx context.Context) (Resources, error) {
	var out Resources
	core, err := s.resourceList(ctx, "/api/v1")
	if err != nil {
		return nil, err
	}
	out = appendResources(out, schema.GroupVersion{Version: "v1"}, core)
	var groups metav1.APIGroupList
	if err := s.discoveryGet(ctx, "/apis", &groups); err != nil {
		return nil, err
	}
	for _, g := range groups.Groups {
		gv, err := schema.ParseGroupVersion(g.PreferredVersion.GroupVersion)
		if err != nil || gv.Version == "" {
			continue
		}
		list, err := s.resourceList(ctx, "/apis/"+gv.Group+"/"+gv.Version)
		if err != nil {
			return nil, err
		}
		out = appendResources(out, gv, list)
	}
	return out, nil
}

func appendResources(out Resources, gv schema.GroupVersion, list *metav1.APIResourceList) Resources {
	for _, r := range list.APIResources {
		if strings.Contains(r.Name, "/") {
			continue
		}
		out = append(out, Resource{GVR: gv.WithResource(r.Name), Kind: r.Kind, Namespaced: r.Namespaced, Verbs: r.Verbs})
	}
	return out
}

func (s *Set) resourceList(ctx context.Context, path string) (*metav1.APIResourceList, error) {
	var l metav1.APIResourceList
	return &l, s.discoveryGet(ctx, path, &l)
}

func (s *Set) discoveryGet(ctx context.Context, path string, into any) error {
	raw, err := s.REST(corev1.SchemeGroupVersion).Get().AbsPath(path).SetHeader("Accept", "application/json").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("discovery %s: %w", path, err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("discovery %s: %w", path, err)
	}
	return nil
}
