package registry

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// ConvertFieldSelector checks every label of a field selector against the
// labels this resource version accepts and rewrites them to the labels
// Strategy.FieldSet produces. The handlers answer an error with 400
// BadRequest carrying its text, as upstream does. Messages are upstream's:
// "field label not supported: <label>" for types with selectable fields of
// their own, and `"<label>" is not a known field selector: only
// "metadata.name", "metadata.namespace"` for the others.
func (r *Resource) ConvertFieldSelector(sel fields.Selector) (fields.Selector, error) {
	if sel == nil || sel.Empty() {
		return sel, nil
	}
	return sel.Transform(func(label, value string) (string, string, error) {
		return r.convertFieldLabel(label, value)
	})
}

func (r *Resource) convertFieldLabel(label, value string) (string, string, error) {
	if r.fieldLabels == nil {
		return runtime.DefaultMetaV1FieldSelectorConversion(label, value)
	}
	stored, ok := r.fieldLabels[label]
	if !ok {
		return "", "", fmt.Errorf("field label not supported: %s", label)
	}
	return stored, value, nil
}

// SelectableFields lists the field selector labels this resource version
// accepts (for documentation and `kubectl explain`-like help).
func (r *Resource) SelectableFields() []string {
	if r.fieldLabels == nil {
		return []string{"metadata.name", "metadata.namespace"}
	}
	out := make([]string, 0, len(r.fieldLabels))
	for l := range r.fieldLabels {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
