package registry

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// groupSpec and versionSpec describe the catalog before New indexes it.
type groupSpec struct {
	name     string
	versions []versionSpec // preferred first
}

type versionSpec struct {
	version   string
	resources []*Resource
}

// resOpt adjusts one resource while the catalog is built.
type resOpt func(*Resource)

// res declares a resource with the full set of verbs most resources have;
// options add short names, categories, subresources, a strategy, or
// replace the verbs.
func res(plural, singular, kind string, namespaced bool, opts ...resOpt) *Resource {
	r := &Resource{
		Resource:     plural,
		SingularName: singular,
		Kind:         kind,
		Namespaced:   namespaced,
		Verbs:        crudVerbs(),
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func crudVerbs() []string {
	return []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
}

func short(names ...string) resOpt { return func(r *Resource) { r.ShortNames = names } }

// inAll puts a resource in the "all" category (kubectl get all).
func inAll() resOpt { return cats("all") }

func cats(names ...string) resOpt { return func(r *Resource) { r.Categories = names } }

func verbs(v ...string) resOpt { return func(r *Resource) { r.Verbs = v } }

func strategy(s *typeStrategy) resOpt {
	return func(r *Resource) {
		if s != nil {
			r.Strategy = s
		}
	}
}

func storedAs(gv schema.GroupVersion) resOpt { return func(r *Resource) { r.StorageVersion = gv } }

func deprecated(warning string) resOpt { return func(r *Resource) { r.DeprecationWarning = warning } }

func converter(c Converter) resOpt {
	return func(r *Resource) {
		if c != nil {
			r.Converter = c
		}
	}
}

// fieldLabels declares the field selector labels a resource accepts beyond
// metadata.name and metadata.namespace. Each label maps to itself unless a
// pair "served=stored" is given (events.k8s.io/v1 "regarding.name" is
// stored as "involvedObject.name").
func fieldLabels(labels ...string) resOpt {
	return func(r *Resource) {
		r.fieldLabels = map[string]string{"metadata.name": "metadata.name"}
		if r.Namespaced {
			r.fieldLabels["metadata.namespace"] = "metadata.namespace"
		}
		for _, l := range labels {
			served, stored := l, l
			for i := 0; i < len(l); i++ {
				if l[i] == '=' {
					served, stored = l[:i], l[i+1:]
					break
				}
			}
			r.fieldLabels[served] = stored
		}
	}
}

// sub adds a subresource speaking the parent's own kind.
func sub(name string, v ...string) resOpt {
	return func(r *Resource) {
		r.Subresources = append(r.Subresources, Subresource{Name: name, Kind: schema.GroupVersionKind{Kind: r.Kind}, Verbs: v})
	}
}

// subKind adds a subresource speaking another kind; an empty group and
// version mean the parent's group/version.
func subKind(name string, gvk schema.GroupVersionKind, v ...string) resOpt {
	return func(r *Resource) {
		r.Subresources = append(r.Subresources, Subresource{Name: name, Kind: gvk, Verbs: v})
	}
}

// tracksGeneration gives a resource without other behaviour the generic
// strategy with metadata.generation following its spec; it must come after
// the subresource options.
func tracksGeneration() resOpt {
	return func(r *Resource) {
		r.Strategy = &typeStrategy{namespaced: r.Namespaced, status: hasSubresource(r, "status"), generation: true}
	}
}

func withStatus() resOpt { return sub("status", "get", "patch", "update") }

func withScale() resOpt {
	return subKind("scale", schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, "get", "patch", "update")
}

func proxyVerbs() []string { return []string{"create", "delete", "get", "patch", "update"} }

func kind(k string) schema.GroupVersionKind { return schema.GroupVersionKind{Kind: k} }

// coreGroup is core/v1 as kube-apiserver serves it by default.
func coreGroup(cs *coreStrategies) groupSpec {
	const ns, cluster = true, false
	return groupSpec{name: "", versions: []versionSpec{{version: "v1", resources: []*Resource{
		res("bindings", "binding", "Binding", ns, verbs("create")),
		res("componentstatuses", "componentstatus", "ComponentStatus", cluster, short("cs"), verbs("get", "list"),
			deprecated("v1 ComponentStatus is deprecated in v1.19+"),
			strategy(cs.componentStatus)),
		res("configmaps", "configmap", "ConfigMap", ns, short("cm"), strategy(cs.configMap)),
		res("endpoints", "endpoints", "Endpoints", ns, short("ep"), strategy(cs.endpoints),
			deprecated("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice")),
		res("events", "event", "Event", ns, short("ev"), strategy(cs.event), converter(cs.eventConverter),
			fieldLabels("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
				"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
				"reason", "reportingComponent", "source", "type")),
		res("limitranges", "limitrange", "LimitRange", ns, short("limits"), strategy(cs.limitRange)),
		res("namespaces", "namespace", "Namespace", cluster, short("ns"),
			verbs("create", "delete", "get", "list", "patch", "update", "watch"),
			sub("finalize", "update"), withStatus(), strategy(cs.namespace), fieldLabels("status.phase")),
		res("nodes", "node", "Node", cluster, short("no"),
			subKind("proxy", kind("NodeProxyOptions"), proxyVerbs()...), withStatus(),
			strategy(cs.node), fieldLabels("spec.unschedulable")),
		res("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", ns, short("pvc"), withStatus(),
			strategy(cs.pvc)),
		res("persistentvolumes", "persistentvolume", "PersistentVolume", cluster, short("pv"), withStatus(),
			strategy(cs.pv)),
		res("pods", "pod", "Pod", ns, short("po"), inAll(),
			subKind("attach", kind("PodAttachOptions"), "create", "get"),
			subKind("binding", kind("Binding"), "create"),
			sub("ephemeralcontainers", "get", "patch", "update"),
			subKind("eviction", schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, "create"),
			subKind("exec", kind("PodExecOptions"), "create", "get"),
			sub("log", "get"),
			subKind("portforward", kind("PodPortForwardOptions"), "create", "get"),
			subKind("proxy", kind("PodProxyOptions"), proxyVerbs()...),
			sub("resize", "get", "patch", "update"),
			withStatus(), strategy(cs.pod),
			fieldLabels("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
				"spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName", "spec.host=spec.nodeName")),
		res("podtemplates", "podtemplate", "PodTemplate", ns, strategy(cs.podTemplate)),
		res("replicationcontrollers", "replicationcontroller", "ReplicationController", ns, short("rc"), inAll(),
			withScale(), withStatus(), strategy(cs.rc), fieldLabels("status.replicas")),
		res("resourcequotas", "resourcequota", "ResourceQuota", ns, short("quota"), withStatus(), strategy(cs.quota)),
		res("secrets", "secret", "Secret", ns, strategy(cs.secret), fieldLabels("type")),
		res("serviceaccounts", "serviceaccount", "ServiceAccount", ns, short("sa"),
			subKind("token", schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}, "create"),
			strategy(cs.serviceAccount)),
		res("services", "service", "Service", ns, short("svc"), inAll(),
			subKind("proxy", kind("ServiceProxyOptions"), proxyVerbs()...), withStatus(), strategy(cs.service),
			fieldLabels("spec.clusterIP", "spec.type")),
	}}}}
}
