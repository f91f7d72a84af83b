package openapi

import (
	"encoding/json"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// v3Set is every OpenAPI v3 document and their index.
type v3Set struct {
	keys  []string
	docs  map[string]*blob
	index *blob
}

// groupVersions lists the served group/versions and groups in catalog
// order.
func (d *Docs) groupVersions() ([]schema.GroupVersion, []string) {
	var gvs []schema.GroupVersion
	var groups []string
	seenGV, seenGroup := map[schema.GroupVersion]bool{}, map[string]bool{}
	for _, res := range d.resources {
		gv := res.GroupVersion
		if !seenGV[gv] {
			seenGV[gv] = true
			gvs = append(gvs, gv)
		}
		if gv.Group != "" && !seenGroup[gv.Group] {
			seenGroup[gv.Group] = true
			groups = append(groups, gv.Group)
		}
	}
	return gvs, groups
}

// resourcesOf returns the served resources of one group/version.
func (d *Docs) resourcesOf(gv schema.GroupVersion) []*registry.Resource {
	var out []*registry.Resource
	for _, res := range d.resources {
		if res.GroupVersion == gv {
			out = append(out, res)
		}
	}
	return out
}

// gvRoutes are the discovery route and resource routes of a group/version.
func (d *Docs) gvRoutes(g *routeGen, gv schema.GroupVersion) []*route {
	routes := []*route{g.resourcesRoute(gv)}
	for _, res := range d.resourcesOf(gv) {
		routes = append(routes, g.resource(res)...)
	}
	return routes
}

// newGen starts a document: a route generator with a fresh modeler.
func (d *Docs) newGen(idx typeIndex) *routeGen {
	return &routeGen{m: newModeler(d.markers(), idx.gvks), types: idx.types, std: newStdParams()}
}

// finishRoutes builds the definitions the routes refer to and puts the
// routes in path order with shared parameters hoisted.
func finishRoutes(g *routeGen, routes []*route) ([]*route, error) {
	if err := g.m.closure(); err != nil {
		return nil, err
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].path < routes[j].path })
	for _, r := range routes {
		r.hoist()
	}
	return routes, nil
}

// buildV2 builds the Swagger 2.0 document of everything served, as JSON
// and as protobuf.
func (d *Docs) buildV2() (*blob, *blob, error) {
	idx := d.typeIndex()
	g := d.newGen(idx)
	gvs, groups := d.groupVersions()
	routes := []*route{g.coreVersionsRoute(), g.groupsRoute(), g.versionRoute()}
	for _, group := range groups {
		routes = append(routes, g.groupRoute(group))
	}
	for _, gv := range gvs {
		routes = append(routes, d.gvRoutes(g, gv)...)
	}
	routes, err := finishRoutes(g, routes)
	if err != nil {
		return nil, nil, fmt.Errorf("openapi v2: %w", err)
	}
	params := newParamTable(routes)
	jw, pw := newBlobWriter(), newBlobWriter()
	pw.proto(protoHead(d.version, params))
	jw.str(`{"definitions":{`)
	for i, name := range g.m.names() {
		n, err := g.m.definition(name)
		if err != nil {
			return nil, nil, fmt.Errorf("openapi v2: %w", err)
		}
		if i > 0 {
			jw.str(",")
		}
		jw.json(name)
		jw.str(":")
		jw.json(n.schemaV2())
		pw.proto(protoDefinition(name, n))
	}
	jw.str(`},"info":`)
	jw.json(map[string]string{"title": "Kubernetes", "version": d.version})
	shared := map[string]any{}
	for _, name := range params.sharedOrder {
		shared[name] = params.sharedParams[name].paramV2()
	}
	jw.str(`,"parameters":`)
	jw.json(shared)
	jw.str(`,"paths":{`)
	for i, r := range routes {
		if i > 0 {
			jw.str(",")
		}
		jw.json(r.path)
		jw.str(":")
		jw.json(r.routeV2(params))
		pw.proto(protoPath(r, params))
	}
	jw.str(`},"security":[{"BearerToken":[]}],"securityDefinitions":`)
	jw.json(securityDefinitionV2())
	jw.str(`,"swagger":"2.0"}`)
	jsonBlob, err := jw.close()
	if err != nil {
		return nil, nil, fmt.Errorf("openapi v2: %w", err)
	}
	protoBlob, err := pw.close()
	if err != nil {
		return nil, nil, fmt.Errorf("openapi v2: %w", err)
	}
	return jsonBlob, protoBlob, nil
}

// buildV3 builds one OpenAPI 3.0 document per discovery path — api,
// api/v1, apis, apis/<group>, apis/<group>/<version>, version — and the
// index listing them with their hashes.
func (d *Docs) buildV3() (*v3Set, error) {
	idx := d.typeIndex()
	gvs, groups := d.groupVersions()
	set := &v3Set{docs: map[string]*blob{}}
	steps := []v3Step{
		{"api", func(g *routeGen) []*route { return []*route{g.coreVersionsRoute()} }},
		{"apis", func(g *routeGen) []*route { return []*route{g.groupsRoute()} }},
		{"version", func(g *routeGen) []*route { return []*route{g.versionRoute()} }},
	}
	for _, group := range groups {
		steps = append(steps, v3Step{"apis/" + group, func(g *routeGen) []*route { return []*route{g.groupRoute(group)} }})
	}
	for _, gv := range gvs {
		steps = append(steps, v3Step{v3Key(gv), func(g *routeGen) []*route { return d.gvRoutes(g, gv) }})
	}
	for _, s := range steps {
		g := d.newGen(idx)
		b, err := d.writeV3(g, s.routes(g))
		if err != nil {
			return nil, fmt.Errorf("openapi v3 %s: %w", s.key, err)
		}
		set.keys = append(set.keys, s.key)
		set.docs[s.key] = b
	}
	sort.Strings(set.keys)
	paths := make(map[string]any, len(set.keys))
	for _, key := range set.keys {
		paths[key] = map[string]string{"serverRelativeURL": "/openapi/v3/" + key + "?hash=" + set.docs[key].hash}
	}
	index, err := json.Marshal(map[string]any{"paths": paths})
	if err != nil {
		return nil, fmt.Errorf("openapi v3 index: %w", err)
	}
	if set.index, err = newBlob(index); err != nil {
		return nil, fmt.Errorf("openapi v3 index: %w", err)
	}
	return set, nil
}

// v3Step is one v3 document to build: its key and its routes.
type v3Step struct {
	key    string
	routes func(*routeGen) []*route
}

// writeV3 encodes one v3 document.
func (d *Docs) writeV3(g *routeGen, routes []*route) (*blob, error) {
	routes, err := finishRoutes(g, routes)
	if err != nil {
		return nil, err
	}
	w := newBlobWriter()
	w.str(`{"components":{"schemas":{`)
	for i, name := range g.m.names() {
		n, err := g.m.definition(name)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			w.str(",")
		}
		w.json(name)
		w.str(":")
		w.json(n.schemaV3())
	}
	w.str(`},"securitySchemes":`)
	w.json(securityDefinitionV2())
	w.str(`},"info":`)
	w.json(map[string]string{"title": "Kubernetes", "version": d.version})
	w.str(`,"openapi":"3.0.0","paths":{`)
	for i, r := range routes {
		if i > 0 {
			w.str(",")
		}
		w.json(r.path)
		w.str(":")
		w.json(r.routeV3())
	}
	w.str(`}}`)
	return w.close()
}

// v3Key is the index key of a group/version's document.
func v3Key(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}
