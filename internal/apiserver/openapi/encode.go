package openapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The JSON forms are built as maps and marshalled by encoding/json, which
// sorts keys — the order upstream's documents have.

const (
	v2DefPrefix = "#/definitions/"
	v3DefPrefix = "#/components/schemas/"
)

// schemaV2 is n as a Swagger 2.0 schema.
func (n *node) schemaV2() map[string]any {
	o := map[string]any{}
	if n.ref != "" {
		o["$ref"] = v2DefPrefix + n.ref
	}
	n.common(o)
	if n.typ != "" {
		o["type"] = n.typ
	}
	if n.items != nil {
		o["items"] = n.items.schemaV2()
	}
	if n.additional != nil {
		o["additionalProperties"] = n.additional.schemaV2()
	}
	if len(n.props) > 0 {
		props := make(map[string]any, len(n.props))
		for _, p := range n.props {
			props[p.name] = p.node.schemaV2()
		}
		o["properties"] = props
	}
	return o
}

// schemaV3 is n as an OpenAPI 3.0 schema: references with siblings are
// wrapped in allOf, scalars with several wire forms use oneOf, and
// defaults are included.
func (n *node) schemaV3() map[string]any {
	o := map[string]any{}
	n.common(o)
	if n.dflt != nil {
		o["default"] = n.dflt
	}
	if n.ref != "" {
		if len(o) == 0 {
			o["$ref"] = v3DefPrefix + n.ref
		} else {
			o["allOf"] = []any{map[string]any{"$ref": v3DefPrefix + n.ref}}
		}
	}
	switch {
	case len(n.oneOf) > 0:
		alts := make([]any, len(n.oneOf))
		for i, t := range n.oneOf {
			alts[i] = map[string]any{"type": t}
		}
		o["oneOf"] = alts
	case n.typ != "":
		o["type"] = n.typ
	}
	if n.items != nil {
		o["items"] = n.items.schemaV3()
	}
	if n.additional != nil {
		o["additionalProperties"] = n.additional.schemaV3()
	}
	if len(n.props) > 0 {
		props := make(map[string]any, len(n.props))
		for _, p := range n.props {
			props[p.name] = p.node.schemaV3()
		}
		o["properties"] = props
	}
	return o
}

// common sets what both versions spell alike: description, format,
// required and the x-kubernetes extensions.
func (n *node) common(o map[string]any) {
	if n.description != "" {
		o["description"] = n.description
	}
	if n.format != "" {
		o["format"] = n.format
	}
	if len(n.required) > 0 {
		o["required"] = n.required
	}
	if len(n.enum) > 0 {
		o["enum"] = n.enum
	}
	for _, e := range n.extensions() {
		o[e.name] = e.value
	}
}

// extension is one vendor extension of a schema or operation.
type extension struct {
	name  string
	value any
}

func (n *node) extensions() []extension {
	var out []extension
	if len(n.gvks) > 0 {
		list := make([]any, len(n.gvks))
		for i, gvk := range n.gvks {
			list[i] = gvkValue(gvk)
		}
		out = append(out, extension{"x-kubernetes-group-version-kind", list})
	}
	if len(n.listMapKeys) > 0 {
		out = append(out, extension{"x-kubernetes-list-map-keys", n.listMapKeys})
	}
	if n.listType != "" {
		out = append(out, extension{"x-kubernetes-list-type", n.listType})
	}
	if n.mapType != "" {
		out = append(out, extension{"x-kubernetes-map-type", n.mapType})
	}
	if n.patchMergeKey != "" {
		out = append(out, extension{"x-kubernetes-patch-merge-key", n.patchMergeKey})
	}
	if n.patchStrategy != "" {
		out = append(out, extension{"x-kubernetes-patch-strategy", n.patchStrategy})
	}
	return out
}

func gvkValue(gvk schema.GroupVersionKind) map[string]any {
	return map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

// opExtensions are x-kubernetes-action and x-kubernetes-group-version-kind
// of an operation (discovery operations have neither).
func (op *operation) extensions() []extension {
	if op.action == "" {
		return nil
	}
	return []extension{
		{"x-kubernetes-action", op.action},
		{"x-kubernetes-group-version-kind", gvkValue(op.gvk)},
	}
}

// paramV2 is p as a Swagger 2.0 parameter.
func (p *param) paramV2() map[string]any {
	o := map[string]any{"name": p.name, "in": p.in}
	if p.required {
		o["required"] = true
	}
	if p.in == "body" {
		o["schema"] = map[string]any{"$ref": v2DefPrefix + p.schemaRef}
		return o
	}
	if p.description != "" {
		o["description"] = p.description
	}
	o["type"] = p.typ
	o["uniqueItems"] = true
	return o
}

// paramV3 is a path or query parameter p in OpenAPI 3.0 form.
func (p *param) paramV3() map[string]any {
	o := map[string]any{"name": p.name, "in": p.in, "schema": map[string]any{"type": p.typ, "uniqueItems": true}}
	if p.required {
		o["required"] = true
	}
	if p.description != "" {
		o["description"] = p.description
	}
	return o
}

// sharedParamName is the name a parameter gets in the v2 document's shared
// parameters: its own name and a short hash of its content.
func sharedParamName(p *param, encoded []byte) string {
	sum := sha256.Sum256(encoded)
	return p.name + "-" + base64.RawURLEncoding.EncodeToString(sum[:6])
}

// shareable reports whether p may be moved to the shared parameters (names
// and object bodies differ by kind and stay inline, as upstream has them).
func shareable(p *param) bool {
	if p.in == "path" && p.name == "name" {
		return false
	}
	return p.in != "body" || p.schemaRef == defPatch || p.schemaRef == defDeleteOptions
}

// paramTable holds the v2 parameters used more than once, which the v2
// document lists once under "parameters" and refers to by name.
type paramTable struct {
	names        map[string]string // encoded parameter → shared name
	sharedOrder  []string          // shared names, sorted
	sharedParams map[string]*param
}

func newParamTable(routes []*route) *paramTable {
	t := &paramTable{names: map[string]string{}, sharedParams: map[string]*param{}}
	count := map[string]int{}
	first := map[string]*param{}
	for _, r := range routes {
		for _, ps := range append([][]*param{r.params}, opParams(r)...) {
			for _, p := range ps {
				if key, ok := paramKey(p); ok {
					count[key]++
					if first[key] == nil {
						first[key] = p
					}
				}
			}
		}
	}
	for key, c := range count {
		if c < 2 {
			continue
		}
		name := sharedParamName(first[key], []byte(key))
		t.names[key] = name
		t.sharedParams[name] = first[key]
		t.sharedOrder = append(t.sharedOrder, name)
	}
	sort.Strings(t.sharedOrder)
	return t
}

// paramKey identifies a shareable parameter by its encoding.
func paramKey(p *param) (string, bool) {
	if !shareable(p) {
		return "", false
	}
	if !p.hasKey {
		b, err := json.Marshal(p.paramV2())
		if err != nil {
			return "", false
		}
		p.key, p.hasKey = string(b), true
	}
	return p.key, true
}

// sharedName returns the name p is shared under, if it is.
func (t *paramTable) sharedName(p *param) (string, bool) {
	key, ok := paramKey(p)
	if !ok {
		return "", false
	}
	name, ok := t.names[key]
	return name, ok
}

// ref returns the v2 form of p: a reference into the shared parameters when
// p is used more than once, else p itself.
func (t *paramTable) ref(p *param) any {
	if name, ok := t.sharedName(p); ok {
		return map[string]any{"$ref": "#/parameters/" + name}
	}
	return p.paramV2()
}

func opParams(r *route) [][]*param {
	out := make([][]*param, len(r.ops))
	for i, op := range r.ops {
		out[i] = op.params
	}
	return out
}

// routeV2 is r as a Swagger 2.0 path item.
func (r *route) routeV2(params *paramTable) map[string]any {
	item := map[string]any{}
	if len(r.params) > 0 {
		item["parameters"] = paramsV2(r.params, params)
	}
	for _, op := range r.ops {
		o := map[string]any{
			"description": op.description, "operationId": op.id, "consumes": op.consumes, "produces": op.produces,
			"schemes": []string{"https"}, "tags": []string{op.tag},
		}
		if len(op.params) > 0 {
			o["parameters"] = paramsV2(op.params, params)
		}
		responses := map[string]any{}
		for _, resp := range op.responses {
			v := map[string]any{"description": resp.description}
			if s := resp.schema(v2DefPrefix); s != nil {
				v["schema"] = s
			}
			responses[resp.code] = v
		}
		o["responses"] = responses
		for _, e := range op.extensions() {
			o[e.name] = e.value
		}
		item[op.method] = o
	}
	return item
}

func paramsV2(ps []*param, params *paramTable) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = params.ref(p)
	}
	return out
}

// schema is the body schema of a response, nil for none.
func (resp response) schema(prefix string) map[string]any {
	switch {
	case resp.ref != "":
		return map[string]any{"$ref": prefix + resp.ref}
	case resp.typ != "":
		return map[string]any{"type": resp.typ}
	}
	return nil
}

// routeV3 is r as an OpenAPI 3.0 path item.
func (r *route) routeV3() map[string]any {
	item := map[string]any{}
	if len(r.params) > 0 {
		item["parameters"] = paramsV3(r.params)
	}
	for _, op := range r.ops {
		o := map[string]any{"description": op.description, "operationId": op.id, "tags": []string{op.tag}}
		var body *param
		var rest []*param
		for _, p := range op.params {
			if p.in == "body" {
				body = p
			} else {
				rest = append(rest, p)
			}
		}
		if len(rest) > 0 {
			o["parameters"] = paramsV3(rest)
		}
		if body != nil {
			rb := map[string]any{"content": content(op.consumes, map[string]any{"$ref": v3DefPrefix + body.schemaRef})}
			if body.required {
				rb["required"] = true
			}
			o["requestBody"] = rb
		}
		responses := map[string]any{}
		for _, resp := range op.responses {
			v := map[string]any{"description": resp.description}
			if s := resp.schema(v3DefPrefix); s != nil {
				v["content"] = content(op.produces, s)
			}
			responses[resp.code] = v
		}
		o["responses"] = responses
		for _, e := range op.extensions() {
			o[e.name] = e.value
		}
		item[op.method] = o
	}
	return item
}

func paramsV3(ps []*param) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = p.paramV3()
	}
	return out
}

func content(mediaTypes []string, s map[string]any) map[string]any {
	out := make(map[string]any, len(mediaTypes))
	for _, mt := range mediaTypes {
		out[mt] = map[string]any{"schema": s}
	}
	return out
}

// Security as upstream declares it: a bearer token in the Authorization
// header.
func securityDefinitionV2() map[string]any {
	return map[string]any{"BearerToken": map[string]any{
		"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}}
}
