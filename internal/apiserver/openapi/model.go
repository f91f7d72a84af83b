package openapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// node is one schema, independent of how it is encoded (Swagger 2.0 JSON,
// its protobuf form, or OpenAPI 3.0 JSON).
type node struct {
	ref         string // name of the definition this node refers to
	typ         string // object, array, string, integer, number, boolean
	format      string
	description string
	items       *node
	additional  *node // additionalProperties
	props       []prop
	required    []string
	oneOf       []string // OpenAPI v3 only: alternative scalar types
	dflt        any      // OpenAPI v3 only: default value, nil for none
	enum        []string // allowed values of an enum string type

	gvks          []schema.GroupVersionKind // x-kubernetes-group-version-kind
	listType      string                    // x-kubernetes-list-type
	listMapKeys   []string                  // x-kubernetes-list-map-keys
	mapType       string                    // x-kubernetes-map-type
	patchStrategy string                    // x-kubernetes-patch-strategy
	patchMergeKey string                    // x-kubernetes-patch-merge-key
}

// prop is one named property of an object schema.
type prop struct {
	name string
	node *node
}

// Interfaces the k8s.io/apimachinery types with a custom JSON form implement
// to tell OpenAPI generators how they look on the wire (Time, MicroTime,
// Duration, Quantity, IntOrString).
type (
	openAPISchemaTyper interface {
		OpenAPISchemaType() []string
		OpenAPISchemaFormat() string
	}
	openAPIV3OneOfTyper interface{ OpenAPIV3OneOfTypes() []string }
	openAPIModelNamer   interface{ OpenAPIModelName() string }
	swaggerDocer        interface{ SwaggerDoc() map[string]string }
)

var (
	bytesType       = reflect.TypeFor[[]byte]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// modeler turns Go types into definitions. It is used for one document
// (or one type converter) and then dropped.
type modeler struct {
	marks markers
	gvks  map[reflect.Type][]schema.GroupVersionKind

	types map[string]reflect.Type // every definition found, by name
	queue []reflect.Type
}

func newModeler(marks markers, gvks map[reflect.Type][]schema.GroupVersionKind) *modeler {
	return &modeler{marks: marks, gvks: gvks, types: map[string]reflect.Type{}}
}

// ref returns the definition name of struct type t and queues its
// definition to be built.
func (m *modeler) ref(t reflect.Type) string {
	name := definitionName(t)
	if prev, ok := m.types[name]; ok {
		if prev != t {
			// Two Go types with one name would make a broken document; keep
			// the first and let the caller's tests find it.
			return name
		}
		return name
	}
	m.types[name] = t
	m.queue = append(m.queue, t)
	return name
}

// closure finds every definition the queued ones refer to, transitively.
// The definitions themselves are not kept: documents build them again one
// at a time (definition) while writing, so only one is in memory at once.
func (m *modeler) closure() error {
	for len(m.queue) > 0 {
		t := m.queue[0]
		m.queue = m.queue[1:]
		if _, err := m.define(t); err != nil {
			return fmt.Errorf("definition %s: %w", definitionName(t), err)
		}
	}
	return nil
}

// names lists the definitions found, sorted.
func (m *modeler) names() []string {
	names := make([]string, 0, len(m.types))
	for name := range m.types {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// definition builds the definition of a name closure found.
func (m *modeler) definition(name string) (*node, error) {
	t, ok := m.types[name]
	if !ok {
		return nil, fmt.Errorf("no definition %s", name)
	}
	return m.define(t)
}

// define builds the definition of a named struct type.
func (m *modeler) define(t reflect.Type) (*node, error) {
	n := &node{description: docsOf(t)[""], gvks: m.gvks[t]}
	if typer, ok := zeroAs[openAPISchemaTyper](t); ok {
		if types := typer.OpenAPISchemaType(); len(types) > 0 {
			n.typ = types[0]
		}
		n.format = typer.OpenAPISchemaFormat()
		if oneOf, ok := zeroAs[openAPIV3OneOfTyper](t); ok {
			n.oneOf = oneOf.OpenAPIV3OneOfTypes()
		}
		return n, nil
	}
	n.typ = "object"
	seen := map[string]bool{}
	if err := m.fields(t, n, seen); err != nil {
		return nil, err
	}
	sort.Slice(n.props, func(i, j int) bool { return n.props[i].name < n.props[j].name })
	m.marks.typ(definitionName(t)).apply(n)
	return n, nil
}

// fields adds the JSON-visible fields of struct t to n, flattening inlined
// embedded structs the way encoding/json does.
func (m *modeler) fields(t reflect.Type, n *node, seen map[string]bool) error {
	docs := docsOf(t)
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" {
			if et := derefType(f.Type); et.Kind() == reflect.Struct {
				if err := m.fields(et, n, seen); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		p := m.schemaOf(f.Type)
		if p == nil {
			return fmt.Errorf("field %s: unsupported Go type %s", name, f.Type)
		}
		p.description = docs[name]
		p.patchStrategy = f.Tag.Get("patchStrategy")
		p.patchMergeKey = f.Tag.Get("patchMergeKey")
		if nt := derefType(f.Type); nt.Kind() != reflect.Struct && nt.Name() != "" && nt.PkgPath() != "" {
			tm := m.marks.typ(definitionName(nt))
			tm.apply(p) // a named slice or map type's own markers
			if d := tm.enumDescription(); d != "" {
				p.description = strings.TrimSpace(p.description + "\n\n" + d)
			}
		}
		fm := m.marks.field(definitionName(t), name)
		fm.apply(p)
		omitempty := hasOption(opts, "omitempty") || hasOption(opts, "omitzero")
		p.dflt = zeroDefault(f.Type, omitempty)
		required := !omitempty
		if fm != nil {
			if fm.dflt != nil {
				p.dflt = fm.dflt
			}
			required = (required || fm.required) && !fm.optional
		}
		if required {
			n.required = append(n.required, name)
		}
		n.props = append(n.props, prop{name: name, node: p})
	}
	return nil
}

// schemaOf is the schema of a value of Go type t: a reference for named
// structs, inline for everything else. nil means t cannot be described.
func (m *modeler) schemaOf(t reflect.Type) *node {
	if t == bytesType {
		return &node{typ: "string", format: "byte"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return m.schemaOf(t.Elem())
	case reflect.Struct:
		return &node{ref: m.ref(t)}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &node{typ: "string", format: "byte"}
		}
		items := m.schemaOf(t.Elem())
		if items == nil {
			return nil
		}
		items.dflt = zeroDefault(t.Elem(), false)
		return &node{typ: "array", items: items}
	case reflect.Map:
		values := m.schemaOf(t.Elem())
		if values == nil {
			return nil
		}
		values.dflt = zeroDefault(t.Elem(), false)
		return &node{typ: "object", additional: values}
	case reflect.String:
		n := &node{typ: "string"}
		if t.Name() != "" && t.PkgPath() != "" {
			n.enum = m.marks.typ(definitionName(t)).enumValues()
		}
		return n
	case reflect.Bool:
		return &node{typ: "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return &node{typ: "integer", format: "int32"}
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return &node{typ: "integer", format: "int64"}
	case reflect.Float32:
		return &node{typ: "number", format: "float"}
	case reflect.Float64:
		return &node{typ: "number", format: "double"}
	case reflect.Interface:
		return &node{typ: "object"}
	}
	return nil
}

// zeroDefault is the default OpenAPI v3 documents give a value of type t:
// the zero value for non-pointer scalars that are always serialized, an
// empty object for non-pointer structs, none for the rest (upstream's
// openapi-gen rule).
func zeroDefault(t reflect.Type, omitempty bool) any {
	switch t.Kind() {
	case reflect.Struct:
		if customJSON(t) {
			return nil
		}
		return map[string]any{}
	case reflect.String:
		if !omitempty {
			return ""
		}
	case reflect.Bool:
		if !omitempty {
			return false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if !omitempty {
			return 0
		}
	}
	return nil
}

// customJSON reports whether t has its own JSON encoding.
func customJSON(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(unmarshalerType) || p.Implements(unmarshalerType) ||
		t.Implements(marshalerType) || p.Implements(marshalerType)
}

// definitionName is the OpenAPI name of a named Go type, as upstream spells
// it: io.k8s.api.core.v1.Pod for k8s.io/api/core/v1.Pod.
func definitionName(t reflect.Type) string {
	if namer, ok := zeroAs[openAPIModelNamer](t); ok {
		return namer.OpenAPIModelName()
	}
	path := t.PkgPath()
	host, rest, _ := strings.Cut(path, "/")
	parts := strings.Split(host, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	name := strings.Join(parts, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name + "." + t.Name()
}

// docsOf returns the SwaggerDoc descriptions of struct type t: "" is the
// type's, the others are keyed by JSON field name.
func docsOf(t reflect.Type) map[string]string {
	if d, ok := zeroAs[swaggerDocer](t); ok {
		return d.SwaggerDoc()
	}
	return nil
}

// zeroAs returns the zero value of t (or a pointer to one) as interface I.
func zeroAs[I any](t reflect.Type) (I, bool) {
	if v, ok := reflect.Zero(t).Interface().(I); ok {
		return v, true
	}
	v, ok := reflect.New(t).Interface().(I)
	return v, ok
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// jsonValue converts a value parsed from YAML (maps keyed by any) to one
// encoding/json can encode.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}
