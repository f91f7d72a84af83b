package openapi

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/applyconfigurations"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// The merge schema of every served kind (and of the kinds subresources
// speak) is the one client-go ships for the same types — generated
// upstream from the same markers by upstream's tools — field for field:
// types, list types and keys, map types and defaults. client-go's copy is
// linked into this test only; the server builds its own from reflection
// and markers_table.go.
func TestMergeSchemaMatchesClientGo(t *testing.T) {
	d := testDocs(t)
	oracle := applyconfigurations.NewTypeConverter(d.scheme)
	kinds := map[schema.GroupVersionKind]bool{}
	for _, res := range registry.New().All() {
		kinds[res.GroupVersionKind()] = true
		for _, sub := range res.Subresources {
			kinds[sub.Kind] = true
		}
	}
	compared := 0
	for gvk := range kinds {
		obj, err := d.scheme.New(gvk)
		if err != nil || !isResourceKind(obj) {
			continue
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		want, err := oracle.ObjectToTyped(obj)
		if err != nil {
			continue // client-go has no schema for it (options kinds)
		}
		got, err := d.TypeConverter().ObjectToTyped(obj)
		if err != nil {
			t.Errorf("%v: %v", gvk, err)
			continue
		}
		c := &schemaComparison{a: got.Schema(), b: want.Schema(), seen: map[string]bool{}}
		c.ref(gvk.String(), got.TypeRef(), want.TypeRef(), 0)
		for _, diff := range c.diffs {
			t.Error(diff)
		}
		compared += len(c.seen)
	}
	t.Logf("compared %d types", compared)
	if compared < 300 {
		t.Errorf("only %d types compared", compared)
	}
}

// isResourceKind is true for objects with metadata (not options kinds).
func isResourceKind(obj runtime.Object) bool {
	_, ok := reflect.TypeOf(obj).Elem().FieldByName("ObjectMeta")
	return ok
}

// schemaComparison walks two merge schemas side by side.
type schemaComparison struct {
	a, b  *smdschema.Schema
	seen  map[string]bool
	diffs []string
}

func (c *schemaComparison) fail(path, format string, args ...any) {
	c.diffs = append(c.diffs, path+": "+fmt.Sprintf(format, args...))
}

func (c *schemaComparison) ref(path string, a, b smdschema.TypeRef, depth int) {
	if depth > 40 {
		return
	}
	if a.NamedType != nil && b.NamedType != nil && *a.NamedType == *b.NamedType {
		if relationship(a.ElementRelationship) != relationship(b.ElementRelationship) {
			c.fail(path, "element relationship override %v vs %v", relationship(a.ElementRelationship), relationship(b.ElementRelationship))
		}
		if c.seen[*a.NamedType] {
			return
		}
		c.seen[*a.NamedType] = true
		path = *a.NamedType
	}
	if (a.NamedType != nil) != (b.NamedType != nil) && !isUntyped(a) && !isUntyped(b) {
		c.fail(path, "named %v vs %v", name(a), name(b))
		return
	}
	if a.NamedType != nil && b.NamedType != nil && *a.NamedType != *b.NamedType && !isUntyped(a) && !isUntyped(b) {
		c.fail(path, "type %s vs %s", *a.NamedType, *b.NamedType)
		return
	}
	x, ok1 := c.a.Resolve(a)
	y, ok2 := c.b.Resolve(b)
	if !ok1 || !ok2 {
		c.fail(path, "unresolvable %v/%v", name(a), name(b))
		return
	}
	c.atom(path, x, y, depth)
}

func (c *schemaComparison) atom(path string, x, y smdschema.Atom, depth int) {
	if (x.Scalar == nil) != (y.Scalar == nil) || x.Scalar != nil && *x.Scalar != *y.Scalar {
		c.fail(path, "scalar %v vs %v", deref(x.Scalar), deref(y.Scalar))
	}
	if (x.List == nil) != (y.List == nil) {
		c.fail(path, "list %v vs %v", x.List != nil, y.List != nil)
	} else if x.List != nil {
		if r1, r2 := listRel(x.List.ElementRelationship), listRel(y.List.ElementRelationship); r1 != r2 ||
			fmt.Sprint(x.List.Keys) != fmt.Sprint(y.List.Keys) {
			c.fail(path, "list %s %v vs %s %v", r1, x.List.Keys, r2, y.List.Keys)
		}
		c.ref(path+"[]", x.List.ElementType, y.List.ElementType, depth+1)
	}
	if (x.Map == nil) != (y.Map == nil) {
		c.fail(path, "map %v vs %v", x.Map != nil, y.Map != nil)
		return
	}
	if x.Map == nil {
		return
	}
	if r1, r2 := mapRel(x.Map.ElementRelationship), mapRel(y.Map.ElementRelationship); r1 != r2 {
		c.fail(path, "map type %s vs %s", r1, r2)
	}
	fx, fy := fieldsOf(x.Map), fieldsOf(y.Map)
	if fmt.Sprint(sortedKeys(fx)) != fmt.Sprint(sortedKeys(fy)) {
		c.fail(path, "fields %v vs %v", sortedKeys(fx), sortedKeys(fy))
	}
	for n, f := range fx {
		g, ok := fy[n]
		if !ok {
			continue
		}
		if fmt.Sprint(jsonValue(f.Default)) != fmt.Sprint(jsonValue(g.Default)) {
			c.fail(path+"."+n, "default %v vs %v", f.Default, g.Default)
		}
		c.ref(path+"."+n, f.Type, g.Type, depth+1)
	}
	ex, ey := x.Map.ElementType, y.Map.ElementType
	if (ex.NamedType != nil || ex.Inlined != (smdschema.Atom{})) || (ey.NamedType != nil || ey.Inlined != (smdschema.Atom{})) {
		c.ref(path+"{}", ex, ey, depth+1)
	}
}

func fieldsOf(m *smdschema.Map) map[string]smdschema.StructField {
	out := map[string]smdschema.StructField{}
	for _, f := range m.Fields {
		out[f.Name] = f
	}
	return out
}

func sortedKeys(m map[string]smdschema.StructField) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isUntyped(r smdschema.TypeRef) bool {
	return r.NamedType != nil && (*r.NamedType == "__untyped_atomic_" || *r.NamedType == "__untyped_deduced_")
}

func name(r smdschema.TypeRef) string {
	if r.NamedType != nil {
		return *r.NamedType
	}
	return "inline"
}

func deref(s *smdschema.Scalar) string {
	if s == nil {
		return "<none>"
	}
	return string(*s)
}

func relationship(r *smdschema.ElementRelationship) string {
	if r == nil {
		return ""
	}
	return string(*r)
}

func listRel(r smdschema.ElementRelationship) string {
	if r == "" {
		return string(smdschema.Atomic)
	}
	return string(r)
}

func mapRel(r smdschema.ElementRelationship) string {
	if r == "" {
		return string(smdschema.Separable)
	}
	return string(r)
}
