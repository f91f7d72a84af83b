package kctl

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// target is one thing a command acts on: every object of a type (names
// empty) or the named objects of a type, or an object read from a file.
type target struct {
	mapping *meta.RESTMapping
	names   []string
	// obj is set for objects read with -f.
	obj    *unstructured.Unstructured
	source string
}

// namespaced reports whether the target's resource lives in namespaces.
func (t target) namespaced() bool { return t.mapping.Scope.Name() == meta.RESTScopeNameNamespace }

// resolver turns command-line arguments into targets through discovery.
type resolver struct {
	f      *Factory
	mapper meta.RESTMapper
}

func (f *Factory) resolver() (*resolver, error) {
	m, err := f.Mapper()
	if err != nil {
		return nil, err
	}
	return &resolver{f: f, mapper: m}, nil
}

// parseArgs splits `TYPE[,TYPE] [NAME...]` or `TYPE/NAME ...` into targets,
// in command-line order, with kubectl's errors for mixed forms.
func (r *resolver) parseArgs(args []string) ([]target, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if strings.Contains(args[0], "/") {
		var out []target
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok || typ == "" {
				return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'")
			}
			if name == "" {
				return nil, fmt.Errorf("arguments in resource/name form must have a single resource and name")
			}
			ms, err := r.mappings(typ)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				out = appendTarget(out, m, name)
			}
		}
		return out, nil
	}
	for _, a := range args[1:] {
		if strings.Contains(a, "/") {
			return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'")
		}
	}
	ms, err := r.mappings(args[0])
	if err != nil {
		return nil, err
	}
	var out []target
	for _, m := range ms {
		out = append(out, target{mapping: m, names: args[1:]})
	}
	return out, nil
}

// appendTarget adds name to the last target when it has the same mapping
// (so `pod/a pod/b` is one request group), else starts a new target.
func appendTarget(ts []target, m *meta.RESTMapping, name string) []target {
	if n := len(ts); n > 0 && ts[n-1].mapping.Resource == m.Resource && len(ts[n-1].names) > 0 {
		ts[n-1].names = append(ts[n-1].names, name)
		return ts
	}
	return append(ts, target{mapping: m, names: []string{name}})
}

// mappings resolves a comma-separated type list; a category such as `all`
// expands to its members in discovery order.
func (r *resolver) mappings(types string) ([]*meta.RESTMapping, error) {
	var out []*meta.RESTMapping
	for _, t := range strings.Split(types, ",") {
		if t == "" {
			continue
		}
		if ms, ok, err := r.category(t); err != nil {
			return nil, err
		} else if ok {
			out = append(out, ms...)
			continue
		}
		m, err := r.mapping(t)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// mapping resolves one type: plural, singular, short name or kind, with an
// optional `.version.group` or `.group` suffix.
func (r *resolver) mapping(t string) (*meta.RESTMapping, error) {
	gvr, gr := schema.ParseResourceArg(strings.ToLower(t))
	var gvk schema.GroupVersionKind
	var err error
	if gvr != nil {
		gvk, err = r.mapper.KindFor(*gvr)
	}
	if gvr == nil || gvk.Empty() {
		gvk, err = r.mapper.KindFor(gr.WithVersion(""))
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			// An unreachable server also looks like "no match"; report the
			// connection problem instead, as kubectl does.
			if derr := discoveryError(r.f); derr != nil {
				return nil, derr
			}
			return nil, &meta.NoResourceMatchError{PartialResource: schema.GroupVersionResource{Resource: t}}
		}
		return nil, err
	}
	return r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// category expands a discovery category (`all`) that is not itself a
// resource name.
func (r *resolver) category(name string) ([]*meta.RESTMapping, bool, error) {
	if name != "all" {
		return nil, false, nil
	}
	disc, err := r.f.Discovery()
	if err != nil {
		return nil, false, err
	}
	// Like kubectl's category expander: every group version in discovery
	// order, each group-resource once, mapped to its preferred version.
	_, lists, err := disc.ServerGroupsAndResources()
	if err != nil && len(lists) == 0 {
		return nil, false, err
	}
	var out []*meta.RESTMapping
	seen := map[schema.GroupResource]bool{}
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, res := range l.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: res.Name}
			if strings.Contains(res.Name, "/") || !contains(res.Categories, name) || seen[gr] {
				continue
			}
			seen[gr] = true
			m, merr := r.mapping(res.Name + "." + gv.Group)
			if merr != nil {
				return nil, false, merr
			}
			out = append(out, m)
		}
	}
	return out, len(out) > 0, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// resourceClient returns the dynamic client for a mapping in namespace ns
// ("" = all namespaces or cluster scope).
func resourceClient(dyn dynamic.Interface, m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return dyn.Resource(m.Resource).Namespace(ns)
	}
	return dyn.Resource(m.Resource)
}

// resourcePath is the URL path of a collection or object, for raw requests
// (Tables, subresources).
func resourcePath(m *meta.RESTMapping, ns, name string, sub ...string) string {
	p := "/apis/" + m.Resource.Group + "/" + m.Resource.Version
	if m.Resource.Group == "" {
		p = "/api/" + m.Resource.Version
	}
	if ns != "" && m.Scope.Name() == meta.RESTScopeNameNamespace {
		p += "/namespaces/" + ns
	}
	p += "/" + m.Resource.Resource
	if name != "" {
		p += "/" + name
	}
	for _, s := range sub {
		p += "/" + s
	}
	return p
}

// REST returns a raw REST client speaking JSON, for Table requests, logs and
// subresources.
func (f *Factory) REST() (*rest.RESTClient, error) {
	c, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	c = dynamic.ConfigFor(c)
	// A codec that knows metav1.Status, so error bodies become API errors
	// ("Error from server (NotFound): ...") rather than generic ones.
	s := runtime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	c.NegotiatedSerializer = serializer.NewCodecFactory(s).WithoutConversion()
	return rest.UnversionedRESTClientFor(c)
}

// kindName is `kind[.group]` lower-cased, the prefix of `-o name` and of
// mutation messages (`deployment.apps/web created`).
func kindName(gvk schema.GroupVersionKind) string {
	k := strings.ToLower(gvk.Kind)
	if gvk.Group != "" {
		k += "." + gvk.Group
	}
	return k
}

// mappingForObject finds the REST mapping of an object read from a file.
// An apiVersion the server no longer serves gets the learner message naming
// today's apiVersion (see convert.go).
func (r *resolver) mappingForObject(u *unstructured.Unstructured, source string) (*meta.RESTMapping, error) {
	gvk := u.GroupVersionKind()
	m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil {
		return m, nil
	}
	if meta.IsNoMatchError(err) {
		msg := fmt.Sprintf("resource mapping not found for name: %q namespace: %q from %q: no matches for kind %q in version %q\nensure CRDs are installed first",
			u.GetName(), u.GetNamespace(), source, gvk.Kind, gvk.GroupVersion().String())
		if old := lookupOldAPI(gvk); old != nil && r.f.Prefs.Hints {
			msg += "\n\n" + old.explain(source)
		}
		return nil, errors.New(msg)
	}
	return nil, err
}

// discoveryError is the error of fetching the API groups, nil when
// discovery works.
func discoveryError(f *Factory) error {
	disc, err := f.Discovery()
	if err != nil {
		return err
	}
	_, err = disc.ServerGroups()
	return err
}
