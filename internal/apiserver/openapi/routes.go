package openapi

import (
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// route is one path of the API with its operations.
type route struct {
	path   string
	params []*param // common to every operation (filled by hoist)
	ops    []*operation
}

// operation is one HTTP method on a route.
type operation struct {
	method      string // get, put, post, delete, patch, head, options
	id          string
	description string
	action      string // x-kubernetes-action; "" for discovery operations
	gvk         schema.GroupVersionKind
	tag         string
	consumes    []string
	produces    []string
	params      []*param
	responses   []response
}

// response is one status code an operation answers with.
type response struct {
	code        string
	description string
	ref         string // definition of the body, or
	typ         string // an inline type ("string" for streams)
}

// routeGen builds routes, registering the definitions they refer to with m.
type routeGen struct {
	m     *modeler
	types map[schema.GroupVersionKind]reflect.Type
	std   stdParams
}

// kindRef is the definition name of a kind, "" if the kind has no Go type.
func (g *routeGen) kindRef(gvk schema.GroupVersionKind) string {
	t, ok := g.types[gvk]
	if !ok {
		return ""
	}
	return g.m.ref(t)
}

// typeRef is the definition name of a Go value's type.
func (g *routeGen) typeRef(v any) string { return g.m.ref(reflect.TypeOf(v)) }

// common registers the definitions every resource's operations refer to
// by name: Status, DeleteOptions, Patch and WatchEvent.
func (g *routeGen) common() {
	g.typeRef(metav1.Status{})
	g.typeRef(metav1.DeleteOptions{})
	g.typeRef(metav1.Patch{})
	g.typeRef(metav1.WatchEvent{})
}

// returnsDeletedObject are the kinds whose DELETE answers with the object
// (graceful deletion or finalizers) rather than a Status, as upstream's
// documents declare.
var returnsDeletedObject = map[schema.GroupKind]bool{
	{Kind: "PersistentVolume"}: true, {Kind: "PersistentVolumeClaim"}: true, {Kind: "Pod"}: true,
	{Kind: "PodTemplate"}: true, {Kind: "ResourceQuota"}: true, {Kind: "Service"}: true, {Kind: "ServiceAccount"}: true,
	{Group: "resource.k8s.io", Kind: "DeviceClass"}: true, {Group: "resource.k8s.io", Kind: "ResourceClaim"}: true,
	{Group: "resource.k8s.io", Kind: "ResourceClaimTemplate"}: true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:              true, {Group: "storage.k8s.io", Kind: "CSINode"}: true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}: true, {Group: "storage.k8s.io", Kind: "VolumeAttachment"}: true,
}

// resource lists the routes of one served resource: collection, item,
// legacy watch paths and subresources, each with the operations its verbs
// allow.
func (g *routeGen) resource(res *registry.Resource) []*route {
	gv := res.GroupVersion
	n := opNamer{gv: gv, kind: res.Kind}
	ns := ""
	if res.Namespaced {
		ns, n.scope = "/namespaces/{namespace}", "Namespaced"
	}
	base := gvPrefix(gv)
	g.common()
	scope := func(ps ...*param) []*param {
		out := join(ps)
		if res.Namespaced {
			out = append(out, g.std.namespace)
		}
		return append(out, g.std.pretty)
	}
	name := namePathParam(res.Kind)
	itemScope := func(ps ...*param) []*param { return scope(join(ps, []*param{name})...) }

	coll, item := g.mainRoutes(res, n, base+ns+"/"+res.Resource, scope, itemScope)
	routes := []*route{coll, item}
	if list := g.kindRef(gv.WithKind(res.Kind + "List")); res.Namespaced && res.HasVerb("list") && list != "" {
		all := &route{path: base + "/" + res.Resource}
		all.add(listOp(opNamer{gv: gv, kind: res.Kind}, res.GroupVersionKind(), list, "list", "ForAllNamespaces",
			res.HasVerb("watch"), join([]*param{g.std.pretty}, g.std.list)))
		routes = append(routes, all)
	}
	if res.HasVerb("watch") {
		routes = append(routes, g.watchRoutes(res, n, base, ns)...)
	}
	for _, sub := range res.Subresources {
		routes = append(routes, g.subresource(res, sub, n, item.path, itemScope)...)
	}
	routes = nonEmpty(routes)
	for _, r := range routes {
		for _, op := range r.ops {
			op.tag = tagOf(gv)
		}
	}
	return routes
}

// mainRoutes are the collection and item routes of a resource with the
// operations its verbs allow.
func (g *routeGen) mainRoutes(res *registry.Resource, n opNamer, path string,
	scope, itemScope func(...*param) []*param) (coll, item *route) {
	coll, item = &route{path: path}, &route{path: path + "/{name}"}
	gvk := res.GroupVersionKind()
	self, list := g.kindRef(gvk), g.kindRef(res.GroupVersion.WithKind(res.Kind+"List"))
	if res.HasVerb("list") && list != "" {
		coll.add(listOp(n, gvk, list, "list", "", res.HasVerb("watch"), scope(g.std.list...)))
	}
	if res.HasVerb("create") && self != "" {
		coll.add(writeOp("post", "post", n.id("create", ""), "create"+article(res.Kind)+res.Kind, gvk, self, scope(g.std.create...)))
	}
	if res.HasVerb("deletecollection") {
		coll.add(deleteOp(n.id("delete", "Collection"), "delete collection of "+res.Kind, "deletecollection", gvk,
			scope(g.std.deleteCollection...)))
	}
	if res.HasVerb("get") && self != "" {
		item.add(getOp(n.id("read", ""), "read the specified "+res.Kind, gvk, self, itemScope()))
	}
	if res.HasVerb("update") && self != "" {
		item.add(writeOp("put", "put", n.id("replace", ""), "replace the specified "+res.Kind, gvk, self, itemScope(g.std.update...)))
	}
	if res.HasVerb("patch") && self != "" {
		item.add(patchOp(n.id("patch", ""), "partially update the specified "+res.Kind, gvk, self, itemScope(g.std.patch...)))
	}
	if res.HasVerb("delete") {
		op := deleteOp(n.id("delete", ""), "delete"+article(res.Kind)+res.Kind, "delete", gvk, itemScope(g.std.delete...))
		if self != "" && returnsDeletedObject[gvk.GroupKind()] {
			op.responses[0].ref, op.responses[1].ref = self, self
		}
		item.add(op)
	}
	return coll, item
}

// watchRoutes are the deprecated /watch/ paths upstream still serves.
func (g *routeGen) watchRoutes(res *registry.Resource, n opNamer, base, ns string) []*route {
	gvk := res.GroupVersionKind()
	scoped := func(ps ...*param) []*param {
		out := join(ps, g.std.list)
		if ns != "" {
			out = append(out, g.std.namespace)
		}
		return append(out, g.std.pretty)
	}
	list := &route{path: base + "/watch" + ns + "/" + res.Resource}
	list.add(watchOp(n.id("watch", "")+"List", "watch individual changes to a list of "+res.Kind+
		". deprecated: use the 'watch' parameter with a list operation instead.", "watchlist", gvk, scoped()))
	one := &route{path: list.path + "/{name}"}
	one.add(watchOp(n.id("watch", ""), "watch changes to an object of kind "+res.Kind+". deprecated: use the 'watch' "+
		"parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
		"watch", gvk, scoped(namePathParam(res.Kind))))
	routes := []*route{list, one}
	if ns != "" {
		all := &route{path: base + "/watch/" + res.Resource}
		n.scope = ""
		all.add(watchOp(n.id("watch", "")+"ListForAllNamespaces", "watch individual changes to a list of "+res.Kind+
			". deprecated: use the 'watch' parameter with a list operation instead.", "watchlist", gvk,
			join([]*param{g.std.pretty}, g.std.list)))
		routes = append(routes, all)
	}
	return routes
}

// subresource lists the routes of one subresource.
func (g *routeGen) subresource(res *registry.Resource, sub registry.Subresource, n opNamer, itemPath string,
	itemScope func(...*param) []*param) []*route {
	r := &route{path: itemPath + "/" + sub.Name}
	suffix := upperFirst(sub.Name)
	kind := sub.Kind
	if kind.Version == "" {
		kind = res.GroupVersion.WithKind(kind.Kind)
	}
	if t, ok := g.types[kind]; ok && sub.Name != "log" && strings.HasSuffix(kind.Kind, "Options") {
		return g.connectRoutes(res, sub, n, r, t, itemScope)
	}
	if sub.Name == "log" {
		ps := itemScope()
		if t, ok := g.types[res.GroupVersion.WithKind("PodLogOptions")]; ok {
			ps = append(ps, queryParams(reflect.Zero(t).Interface())...)
		}
		op := getOp(n.id("read", suffix), "read log of the specified "+res.Kind, kind, "", ps)
		op.produces, op.responses = mediaLogs, []response{{code: "200", description: "OK", typ: "string"}, unauthorized()}
		r.add(op)
		return []*route{r}
	}
	ref := g.kindRef(kind)
	if ref == "" {
		return nil
	}
	of := sub.Name + " of the specified " + res.Kind
	for _, verb := range sub.Verbs {
		switch verb {
		case "get":
			r.add(getOp(n.id("read", suffix), "read "+of, kind, ref, itemScope()))
		case "update":
			r.add(writeOp("put", "put", n.id("replace", suffix), "replace "+of, kind, ref, itemScope(g.std.update...)))
		case "patch":
			r.add(patchOp(n.id("patch", suffix), "partially update "+of, kind, ref, itemScope(g.std.patch...)))
		case "create":
			r.add(writeOp("post", "post", n.id("create", suffix), "create "+sub.Name+" of"+article(res.Kind)+res.Kind,
				kind, ref, itemScope(g.std.create...)))
		}
	}
	return []*route{r}
}

// connectRoutes are the streaming and proxy subresources (exec, attach,
// portforward, proxy): their options are query parameters and the body is
// opaque.
func (g *routeGen) connectRoutes(res *registry.Resource, sub registry.Subresource, n opNamer, r *route,
	options reflect.Type, itemScope func(...*param) []*param) []*route {
	methods := []string{}
	for _, verb := range sub.Verbs {
		if m, ok := connectMethods[verb]; ok {
			methods = append(methods, m)
		}
	}
	if sub.Name == "proxy" {
		methods = append(methods, "head", "options")
	}
	slices.Sort(methods)
	opts := reflect.Zero(options).Interface()
	routes := []*route{r}
	withPath := &route{path: r.path + "/{path}"}
	for _, m := range methods {
		r.add(connectOp(n, m, sub, upperFirst(sub.Name), res.Kind, withoutPretty(itemScope(queryParams(opts)...))))
		if sub.Name == "proxy" {
			withPath.add(connectOp(n, m, sub, upperFirst(sub.Name)+"WithPath", res.Kind,
				withoutPretty(itemScope(append(queryParams(opts, "path"), proxyPathParam())...))))
		}
	}
	if sub.Name == "proxy" {
		routes = append(routes, withPath)
	}
	return routes
}

var connectMethods = map[string]string{"get": "get", "create": "post", "update": "put", "delete": "delete", "patch": "patch"}

func connectOp(n opNamer, method string, sub registry.Subresource, suffix, kind string, ps []*param) *operation {
	return &operation{
		method: method, id: "connect" + n.prefix() + upperFirst(method) + n.scope + n.kind + suffix,
		description: "connect " + strings.ToUpper(method) + " requests to " + sub.Name + " of " + kind,
		action:      "connect", gvk: sub.Kind, consumes: mediaAny, produces: mediaAny, params: ps,
		responses: []response{{code: "200", description: "OK", typ: "string"}, unauthorized()},
	}
}

func listOp(n opNamer, gvk schema.GroupVersionKind, list, verb, suffix string, watch bool, ps []*param) *operation {
	desc := "list objects of kind " + n.kind
	if watch {
		desc = "list or watch objects of kind " + n.kind
	}
	return &operation{method: "get", id: n.id(verb, "") + suffix, description: desc,
		action: "list", gvk: gvk, consumes: mediaAny, produces: mediaLists, params: ps,
		responses: []response{ok(list), unauthorized()}}
}

func getOp(id, desc string, gvk schema.GroupVersionKind, ref string, ps []*param) *operation {
	return &operation{method: "get", id: id, description: desc, action: "get", gvk: gvk, consumes: mediaAny,
		produces: mediaObjects, params: ps, responses: []response{ok(ref), unauthorized()}}
}

// writeOp is a create (post) or replace (put).
func writeOp(method, action, id, desc string, gvk schema.GroupVersionKind, ref string, ps []*param) *operation {
	responses := []response{ok(ref), {code: "201", description: "Created", ref: ref}}
	if method == "post" {
		responses = append(responses, response{code: "202", description: "Accepted", ref: ref})
	}
	return &operation{method: method, id: id, description: desc, action: action, gvk: gvk, consumes: mediaAny,
		produces: mediaObjects, params: append(ps, bodyParam(ref, true)), responses: append(responses, unauthorized())}
}

func patchOp(id, desc string, gvk schema.GroupVersionKind, ref string, ps []*param) *operation {
	return &operation{method: "patch", id: id, description: desc, action: "patch", gvk: gvk, consumes: mediaPatches,
		produces: mediaObjects, params: append(ps, bodyParam(defPatch, true)),
		responses: []response{ok(ref), {code: "201", description: "Created", ref: ref}, unauthorized()}}
}

func deleteOp(id, desc, action string, gvk schema.GroupVersionKind, ps []*param) *operation {
	responses := []response{ok(defStatus)}
	if action == "delete" {
		responses = append(responses, response{code: "202", description: "Accepted", ref: defStatus})
	}
	return &operation{method: "delete", id: id, description: desc, action: action, gvk: gvk, consumes: mediaAny,
		produces: mediaObjects, params: append(ps, bodyParam(defDeleteOptions, false)),
		responses: append(responses, unauthorized())}
}

func watchOp(id, desc, action string, gvk schema.GroupVersionKind, ps []*param) *operation {
	return &operation{method: "get", id: id, description: desc, action: action, gvk: gvk, consumes: mediaAny,
		produces: mediaLists, params: ps, responses: []response{ok(defWatchEvent), unauthorized()}}
}

func ok(ref string) response { return response{code: "200", description: "OK", ref: ref} }
func unauthorized() response { return response{code: "401", description: "Unauthorized"} }

// discoveryRoute is a GET of a discovery document (/api/, /apis/apps/v1/,
// /version/ …).
func discoveryRoute(path, id, desc, tag, ref string, produces []string) *route {
	r := &route{path: path}
	r.add(&operation{method: "get", id: id, description: desc, tag: tag, consumes: produces, produces: produces,
		responses: []response{ok(ref), unauthorized()}})
	return r
}

// Discovery documents of the core group, a named group and the server.
func (g *routeGen) coreVersionsRoute() *route {
	return discoveryRoute("/api/", "getCoreAPIVersions", "get available API versions", "core",
		g.typeRef(metav1.APIVersions{}), mediaObjects)
}

func (g *routeGen) groupsRoute() *route {
	return discoveryRoute("/apis/", "getAPIVersions", "get available API versions", "apis",
		g.typeRef(metav1.APIGroupList{}), mediaObjects)
}

func (g *routeGen) groupRoute(group string) *route {
	ident := groupIdent(group)
	return discoveryRoute("/apis/"+group+"/", "get"+upperFirst(ident)+"APIGroup", "get information of a group", ident,
		g.typeRef(metav1.APIGroup{}), mediaObjects)
}

func (g *routeGen) resourcesRoute(gv schema.GroupVersion) *route {
	n := opNamer{gv: gv}
	return discoveryRoute(gvPrefix(gv)+"/", "get"+n.prefix()+"APIResources", "get available resources", tagOf(gv),
		g.typeRef(metav1.APIResourceList{}), mediaObjects)
}

func (g *routeGen) versionRoute() *route {
	return discoveryRoute("/version/", "getCodeVersion", "get the code version", "version",
		g.typeRef(version.Info{}), []string{"application/json"})
}

// add appends an operation to r.
func (r *route) add(op *operation) { r.ops = append(r.ops, op) }

// hoist moves the parameters every operation of r shares (all but bodies)
// to the route, as upstream's documents have them, and orders them.
func (r *route) hoist() {
	if len(r.ops) == 0 {
		return
	}
	type paramID struct{ in, name, description string }
	key := func(p *param) paramID { return paramID{p.in, p.name, p.description} }
	common := map[paramID]int{}
	for _, op := range r.ops {
		for _, p := range op.params {
			if p.in != "body" {
				common[key(p)]++
			}
		}
	}
	var shared []*param
	for _, op := range r.ops {
		var own []*param
		for _, p := range op.params {
			switch {
			case p.in != "body" && common[key(p)] == len(r.ops):
				if op == r.ops[0] {
					shared = append(shared, p)
				}
			default:
				own = append(own, p)
			}
		}
		sortParams(own)
		op.params = own
	}
	sortParams(shared)
	r.params = shared
}

func nonEmpty(routes []*route) []*route {
	out := routes[:0]
	for _, r := range routes {
		if len(r.ops) > 0 {
			out = append(out, r)
		}
	}
	return out
}

func withoutPretty(ps []*param) []*param {
	return slices.DeleteFunc(ps, func(p *param) bool { return p.name == "pretty" })
}

// opNamer spells operation IDs as upstream: list + AppsV1 + Namespaced +
// Deployment.
type opNamer struct {
	gv    schema.GroupVersion
	kind  string
	scope string // "Namespaced" or ""
}

func (n opNamer) prefix() string {
	return upperFirst(groupIdent(n.gv.Group)) + upperFirst(n.gv.Version)
}

// id is verb + group/version + [infix] + scope + kind + suffix, e.g.
// deleteAppsV1CollectionNamespacedDeployment or readAppsV1NamespacedDeploymentScale.
func (n opNamer) id(verb, suffix string) string {
	if suffix == "Collection" {
		return verb + n.prefix() + "Collection" + n.scope + n.kind
	}
	return verb + n.prefix() + n.scope + n.kind + suffix
}

// gvPrefix is the URL prefix of a group/version: /api/v1 or /apis/<g>/<v>.
func gvPrefix(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

// groupIdent is the identifier upstream derives from a group name:
// "core", "apps", "rbacAuthorization", "flowcontrolApiserver".
func groupIdent(group string) string {
	if group == "" {
		return "core"
	}
	parts := strings.Split(strings.TrimSuffix(group, ".k8s.io"), ".")
	for i := 1; i < len(parts); i++ {
		parts[i] = upperFirst(parts[i])
	}
	return strings.ReplaceAll(strings.Join(parts, ""), "-", "")
}

// tagOf is the tag of a group/version's operations: core_v1, apps_v1.
func tagOf(gv schema.GroupVersion) string { return groupIdent(gv.Group) + "_" + gv.Version }

// article is " a ", " an " or " " (for kinds that read as plurals, like
// Endpoints) before a kind in descriptions, as upstream words them.
func article(kind string) string {
	if strings.HasSuffix(kind, "s") && !strings.HasSuffix(kind, "ss") {
		return " "
	}
	if kind != "" && strings.ContainsRune("AEIOUaeiou", rune(kind[0])) {
		return " an "
	}
	return " a "
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
