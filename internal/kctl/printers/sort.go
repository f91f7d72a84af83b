package printers

import (
	"fmt"
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/util/jsonpath"
)

// Sorter orders objects by the value at a --sort-by path, the way kubectl
// compares them: numbers numerically, strings byte-wise unless both parse as
// quantities, objects missing the field first.
type Sorter struct {
	path string
	jp   *jsonpath.JSONPath
}

// NewSorter parses a relaxed --sort-by path.
func NewSorter(path string) (*Sorter, error) {
	expr, err := RelaxedJSONPath(path)
	if err != nil {
		return nil, err
	}
	jp := jsonpath.New("sorting").AllowMissingKeys(true)
	if err := jp.Parse(expr); err != nil {
		return nil, err
	}
	return &Sorter{path: expr, jp: jp}, nil
}

// Sort reorders n items, where obj(i) is the i-th item's content and
// swap(i, j) exchanges two items in the caller's slices.
func (s *Sorter) Sort(n int, obj func(int) map[string]any, swap func(i, j int)) error {
	vals := make([]*reflect.Value, n)
	found := false
	for i := 0; i < n; i++ {
		res, err := s.jp.FindResults(obj(i))
		if err != nil {
			return err
		}
		if len(res) > 0 && len(res[0]) > 0 {
			v := res[0][0]
			vals[i] = &v
			found = true
		}
	}
	if !found && n > 0 {
		return fmt.Errorf("couldn't find any field with path %q in the list of objects", s.path)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Sort(&byValue{vals: vals, idx: idx})
	applyPermutation(idx, swap)
	return nil
}

// applyPermutation reorders the caller's data so that position i holds the
// item that was at idx[i], using only swaps.
func applyPermutation(idx []int, swap func(i, j int)) {
	pos := make([]int, len(idx)) // pos[item] = current position
	at := make([]int, len(idx))  // at[position] = item
	for i := range idx {
		pos[i], at[i] = i, i
	}
	for i, want := range idx {
		j := pos[want]
		if j == i {
			continue
		}
		swap(i, j)
		pos[at[i]], pos[at[j]] = j, i
		at[i], at[j] = at[j], at[i]
	}
}

type byValue struct {
	vals []*reflect.Value
	idx  []int
}

func (b *byValue) Len() int { return len(b.vals) }
func (b *byValue) Swap(i, j int) {
	b.vals[i], b.vals[j] = b.vals[j], b.vals[i]
	b.idx[i], b.idx[j] = b.idx[j], b.idx[i]
}
func (b *byValue) Less(i, j int) bool {
	vi, vj := b.vals[i], b.vals[j]
	switch {
	case vi == nil && vj == nil:
		return false
	case vi == nil:
		return true
	case vj == nil:
		return false
	}
	return less(*vi, *vj)
}

func less(a, b reflect.Value) bool {
	a, b = deref(a), deref(b)
	if !a.IsValid() || !b.IsValid() {
		return !a.IsValid() && b.IsValid()
	}
	switch {
	case isNumber(a) && isNumber(b):
		return toFloat(a) < toFloat(b)
	case a.Kind() == reflect.String && b.Kind() == reflect.String:
		qa, erra := resource.ParseQuantity(a.String())
		qb, errb := resource.ParseQuantity(b.String())
		if erra == nil && errb == nil {
			return qa.Cmp(qb) < 0
		}
		return a.String() < b.String()
	case a.Kind() == reflect.Bool && b.Kind() == reflect.Bool:
		return !a.Bool() && b.Bool()
	}
	return fmt.Sprint(a.Interface()) < fmt.Sprint(b.Interface())
}

func deref(v reflect.Value) reflect.Value {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

func isNumber(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func toFloat(v reflect.Value) float64 {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint())
	}
	return float64(v.Int())
}
