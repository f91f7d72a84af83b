package openapi

import (
	"fmt"
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/schemaconv"
	"k8s.io/kube-openapi/pkg/validation/spec"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// typeConverter is the managed-fields type converter of the built-in
// kinds. Like kube-apiserver's, it is made from the OpenAPI definitions
// (managedfields.NewTypeConverter); unlike it, each kind's schema is built
// only when the kind is first written, from the definitions that kind
// reaches, so a server that writes a dozen kinds never builds the rest.
type typeConverter struct {
	docs  *Docs
	mu    sync.Mutex
	byGVK map[schema.GroupVersionKind]managedfields.TypeConverter
}

var _ managedfields.TypeConverter = (*typeConverter)(nil)

func (c *typeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	tc, err := c.forKind(obj.GetObjectKind().GroupVersionKind())
	if err != nil {
		return nil, err
	}
	return tc.ObjectToTyped(obj, opts...)
}

func (c *typeConverter) TypedToObject(v *typed.TypedValue) (runtime.Object, error) {
	return typedToObject(v)
}

func typedToObject(v *typed.TypedValue) (runtime.Object, error) {
	u, ok := v.AsValue().Unstructured().(map[string]any)
	if !ok {
		return nil, fmt.Errorf("failed to convert value to unstructured for type %T", v.AsValue().Unstructured())
	}
	return &unstructured.Unstructured{Object: u}, nil
}

// forKind returns the converter of one kind, building it on first use.
func (c *typeConverter) forKind(gvk schema.GroupVersionKind) (managedfields.TypeConverter, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tc, ok := c.byGVK[gvk]; ok {
		return tc, nil
	}
	t, ok := c.docs.scheme.AllKnownTypes()[gvk]
	if gvk.Version == "" || !ok {
		return nil, fmt.Errorf("no schema for %v", gvk)
	}
	m := newModeler(c.docs.markers(), map[reflect.Type][]schema.GroupVersionKind{t: {gvk}})
	root := m.ref(t)
	if err := m.closure(); err != nil {
		return nil, fmt.Errorf("schema of %v: %w", gvk, err)
	}
	models := make(map[string]*spec.Schema, len(m.types))
	for _, name := range m.names() {
		n, err := m.definition(name)
		if err != nil {
			return nil, fmt.Errorf("schema of %v: %w", gvk, err)
		}
		models[name] = n.specSchema()
	}
	// What managedfields.NewTypeConverter builds, kept here so that typed
	// objects can skip validation (kindConverter).
	smd, err := schemaconv.ToSchemaFromOpenAPI(models, false)
	if err != nil {
		return nil, fmt.Errorf("schema of %v: %w", gvk, err)
	}
	kc := &kindConverter{schema: &smdschema.Schema{Types: smd.Types}, ref: smdschema.TypeRef{NamedType: &root}}
	if _, ok := kc.schema.Resolve(kc.ref); !ok {
		return nil, fmt.Errorf("schema of %v: no type %s", gvk, root)
	}
	c.byGVK[gvk] = kc
	return kc, nil
}

// kindConverter is the type converter of one kind. It skips the schema
// validation of typed (Go struct) objects: their shape is the schema's by
// construction, and the merge and compare walks that follow check list
// keys themselves. Validating them was about a tenth of the CPU of a
// write. Unstructured objects (server-side apply configurations from
// clients) are validated, as upstream.
type kindConverter struct {
	schema *smdschema.Schema
	ref    smdschema.TypeRef
}

func (k *kindConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	if u, ok := obj.(runtime.Unstructured); ok {
		return typed.AsTyped(value.NewValueInterface(u.UnstructuredContent()), k.schema, k.ref, opts...)
	}
	v, err := value.NewValueReflect(obj)
	if err != nil {
		return nil, fmt.Errorf("%T: %w", obj, err)
	}
	return typed.AsTypedUnvalidated(v, k.schema, k.ref), nil //nolint:staticcheck // validated by construction, see above
}

// specSchema is n as a kube-openapi schema carrying what the
// structured-merge conversion reads: types, formats, references, items,
// properties, defaults and the x-kubernetes extensions (no descriptions).
func (n *node) specSchema() *spec.Schema {
	s := &spec.Schema{}
	if n.ref != "" {
		s.Ref = spec.MustCreateRef(v2DefPrefix + n.ref)
	}
	if n.typ != "" {
		s.Type = spec.StringOrArray{n.typ}
	}
	s.Format = n.format
	s.Default = n.dflt
	if n.items != nil {
		s.Items = &spec.SchemaOrArray{Schema: n.items.specSchema()}
	}
	if n.additional != nil {
		s.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: n.additional.specSchema()}
	}
	if len(n.props) > 0 {
		s.Properties = make(map[string]spec.Schema, len(n.props))
		for _, p := range n.props {
			s.Properties[p.name] = *p.node.specSchema()
		}
	}
	for _, e := range n.extensions() {
		switch v := e.value.(type) {
		case []string: // list-map keys: the conversion reads a []any
			keys := make([]any, len(v))
			for i, k := range v {
				keys[i] = k
			}
			s.AddExtension(e.name, keys)
		default:
			s.AddExtension(e.name, e.value)
		}
	}
	return s
}

func (k *kindConverter) TypedToObject(v *typed.TypedValue) (runtime.Object, error) {
	return typedToObject(v)
}
