package apiserver

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// discovery holds every discovery document, rendered once at start (the
// catalog never changes while the server runs).
type discovery struct {
	apiVersions  []byte                         // /api
	groupList    []byte                         // /apis
	groups       map[string][]byte              // /apis/<g>
	resourceList map[schema.GroupVersion][]byte // /api/v1, /apis/<g>/<v>
	aggregated   map[string]map[string]aggDoc   // "api"|"apis" → "v2"|"v2beta1"
	resources    map[schema.GroupVersion][]*registry.Resource
}

type aggDoc struct {
	body []byte
	etag string
}

func newDiscovery(c Catalog, serverAddress string) (*discovery, error) {
	d := &discovery{
		groups:       map[string][]byte{},
		resourceList: map[schema.GroupVersion][]byte{},
		aggregated:   map[string]map[string]aggDoc{},
		resources:    map[schema.GroupVersion][]*registry.Resource{},
	}
	var groupList metav1.APIGroupList
	var core, named apidiscoveryv2.APIGroupDiscoveryList
	for _, g := range c.Groups() {
		ag := metav1.APIGroup{Name: g.Name}
		agg := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.Name}}
		for _, v := range g.Versions {
			gv := schema.GroupVersion{Group: g.Name, Version: v}
			ag.Versions = append(ag.Versions, metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: v})
			list := c.Resources(gv)
			d.resources[gv] = list
			rl := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String(), APIResources: []metav1.APIResource{}}
			if g.Name == "" {
				rl.APIVersion = "" // upstream strips it for the core group
			}
			av := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
			for _, res := range list {
				rl.APIResources = append(rl.APIResources, legacyResources(res)...)
				av.Resources = append(av.Resources, aggregatedResource(res))
			}
			body, err := json.Marshal(&rl)
			if err != nil {
				return nil, fmt.Errorf("render discovery for %s: %w", gv, err)
			}
			d.resourceList[gv] = body
			agg.Versions = append(agg.Versions, av)
		}
		if len(ag.Versions) > 0 {
			ag.PreferredVersion = ag.Versions[0]
		}
		if g.Name == "" {
			core.Items = append(core.Items, agg)
			continue
		}
		groupList.Groups = append(groupList.Groups, ag)
		ag.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		body, _ := json.Marshal(&ag)
		d.groups[g.Name] = body
		named.Items = append(named.Items, agg)
	}
	groupList.TypeMeta = metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}
	if groupList.Groups == nil {
		groupList.Groups = []metav1.APIGroup{}
	}
	d.groupList, _ = json.Marshal(&groupList)
	d.apiVersions, _ = json.Marshal(&metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: serverAddress}},
	})
	if err := d.renderAggregated(&core, &named); err != nil {
		return nil, err
	}
	return d, nil
}

// renderAggregated renders /api and /apis as aggregated discovery v2 and
// v2beta1 (same shape, other apiVersion) with their ETags.
func (d *discovery) renderAggregated(core, named *apidiscoveryv2.APIGroupDiscoveryList) error {
	for root, list := range map[string]*apidiscoveryv2.APIGroupDiscoveryList{"api": core, "apis": named} {
		d.aggregated[root] = map[string]aggDoc{}
		for _, ver := range []string{"v2", "v2beta1"} {
			list.TypeMeta = metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/" + ver}
			if list.Items == nil {
				list.Items = []apidiscoveryv2.APIGroupDiscovery{}
			}
			body, err := json.Marshal(list)
			if err != nil {
				return fmt.Errorf("render aggregated discovery: %w", err)
			}
			sum := sha512.Sum512(body)
			d.aggregated[root][ver] = aggDoc{body: body, etag: fmt.Sprintf("%q", fmt.Sprintf("%X", sum))}
		}
	}
	return nil
}

// legacyResources is a resource and its subresources as /api/v1 lists them.
func legacyResources(res *registry.Resource) []metav1.APIResource {
	sum := sha256.Sum256([]byte(res.StorageVersion.String() + "/" + res.Kind))
	out := []metav1.APIResource{{
		Name: res.Resource, SingularName: res.SingularName, Namespaced: res.Namespaced, Kind: res.Kind,
		Verbs: orEmpty(res.Verbs), ShortNames: res.ShortNames, Categories: res.Categories,
		StorageVersionHash: base64.StdEncoding.EncodeToString(sum[:8]),
	}}
	for _, sub := range res.Subresources {
		k := subKind(res, sub)
		ar := metav1.APIResource{
			Name: res.Resource + "/" + sub.Name, SingularName: res.SingularName, Namespaced: res.Namespaced,
			Kind: k.Kind, Verbs: orEmpty(sub.Verbs),
		}
		if k.GroupVersion() != res.GroupVersion {
			ar.Group, ar.Version = k.Group, k.Version
		}
		out = append(out, ar)
	}
	return out
}

func aggregatedResource(res *registry.Resource) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if res.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	gvk := res.GroupVersionKind()
	out := apidiscoveryv2.APIResourceDiscovery{
		Resource: res.Resource, Scope: scope, SingularResource: res.SingularName,
		ResponseKind: &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Verbs:        orEmpty(res.Verbs), ShortNames: res.ShortNames, Categories: res.Categories,
	}
	for _, sub := range res.Subresources {
		k := subKind(res, sub)
		out.Subresources = append(out.Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  sub.Name,
			ResponseKind: &metav1.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind},
			Verbs:        orEmpty(sub.Verbs),
		})
	}
	return out
}

// subKind is the kind a subresource speaks; an empty group and version
// mean the parent's.
func subKind(res *registry.Resource, sub registry.Subresource) schema.GroupVersionKind {
	k := sub.Kind
	if k.Group == "" && k.Version == "" {
		k.Group, k.Version = res.GroupVersion.Group, res.GroupVersion.Version
	}
	if k.Kind == "" {
		k.Kind = res.Kind
	}
	return k
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// serveRoot answers /api and /apis: aggregated discovery when the Accept
// header asks for it (v2, or v2beta1 for kubectl 1.27-1.29), the legacy
// documents otherwise.
func (d *discovery) serveRoot(w http.ResponseWriter, r *http.Request) {
	root := strings.Trim(r.URL.Path, "/")
	if ver := aggregatedVersion(r.Header.Get("Accept")); ver != "" {
		doc := d.aggregated[root][ver]
		h := w.Header()
		h.Set("Vary", "Accept")
		h.Set("Cache-Control", "public")
		h.Set("ETag", doc.etag)
		h.Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v="+ver+";as=APIGroupDiscoveryList")
		if match := r.Header.Get("If-None-Match"); match != "" && match == doc.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(doc.body)
		return
	}
	w.Header().Set("Vary", "Accept")
	if root == "api" {
		writeJSONBytes(w, d.apiVersions)
		return
	}
	writeJSONBytes(w, d.groupList)
}

// aggregatedVersion walks the Accept clauses in order and returns "v2" or
// "v2beta1" for the first aggregated-discovery clause before any plain one.
func aggregatedVersion(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["as"] == "" {
			if media == mediaJSON || media == "*/*" || media == "application/*" {
				return ""
			}
			continue
		}
		if media == mediaJSON && params["g"] == "apidiscovery.k8s.io" && params["as"] == "APIGroupDiscoveryList" &&
			(params["v"] == "v2" || params["v"] == "v2beta1") {
			return params["v"]
		}
	}
	return ""
}

func (d *discovery) serveGroup(w http.ResponseWriter, r *http.Request, group string) {
	body, ok := d.groups[group]
	if !ok {
		writeError(w, notFoundPath(), schema.GroupResource{}, "")
		return
	}
	writeJSONBytes(w, body)
}

func (d *discovery) serveGroupVersion(w http.ResponseWriter, r *http.Request, gv schema.GroupVersion) {
	body, ok := d.resourceList[gv]
	if !ok {
		writeError(w, notFoundPath(), schema.GroupResource{}, "")
		return
	}
	writeJSONBytes(w, body)
}

func writeJSONBytes(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", mediaJSON)
	_, _ = w.Write(bytes.TrimSpace(body))
}
