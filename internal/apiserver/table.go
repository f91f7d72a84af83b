package apiserver

import (
	"encoding/json"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// table renders storage-version objects as a meta.k8s.io Table with the
// registry's columns. Rows carry a PartialObjectMetadata (includeObject
// Metadata, the default), the full object (Object) or nothing (None).
// listRV is the Table's resourceVersion: the list's, or for a single
// object its own, as upstream's table generator does.
func (c *call) table(objs []runtime.Object, listRV string, headers bool) (*metav1.Table, error) {
	t, include, err := c.newTable(listRV)
	if err != nil {
		return nil, err
	}
	if headers {
		t.ColumnDefinitions = c.res.Strategy.TableColumns()
	}
	now := c.s.now()
	t.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		cells, err := c.res.Strategy.TableRow(obj, now)
		if err != nil {
			return nil, err
		}
		row, err := c.tableRow(include, cells, obj, c.toServed)
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// scaleTable renders a Scale (GET …/scale asked for as a Table) the way
// upstream's scale subresources do, with the Scale's own columns.
func (c *call) scaleTable(s *autoscalingv1.Scale) (*metav1.Table, error) {
	t, include, err := c.newTable(s.ResourceVersion)
	if err != nil {
		return nil, err
	}
	t.ColumnDefinitions = registry.ScaleTableColumns()
	asIs := func(obj runtime.Object) (runtime.Object, error) { return obj, nil }
	row, err := c.tableRow(include, registry.ScaleTableRow(s, c.s.now()), s, asIs)
	if err != nil {
		return nil, err
	}
	t.Rows = []metav1.TableRow{row}
	return t, nil
}

// newTable is an empty Table of the requested meta.k8s.io version, and the
// includeObject the request asked for.
func (c *call) newTable(rv string) (*metav1.Table, string, error) {
	include := queryValue(c.r, "includeObject")
	switch include {
	case "", "Metadata", "Object", "None":
	default:
		return nil, "", badRequest("unrecognized includeObject value: %q", include)
	}
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/" + c.tableVersion()}}
	t.ResourceVersion = rv
	return t, include, nil
}

func (c *call) tableVersion() string {
	if c.out.asVersion == "" {
		return "v1"
	}
	return c.out.asVersion
}

// tableRow is one row: its cells and, as include says, obj's metadata or
// obj itself in the served form that served gives.
func (c *call) tableRow(include string, cells []any, obj runtime.Object, served func(runtime.Object) (runtime.Object, error)) (metav1.TableRow, error) {
	row := metav1.TableRow{Cells: cells}
	var err error
	switch include {
	case "None":
	case "Object":
		var out runtime.Object
		if out, err = served(obj); err == nil {
			row.Object.Raw, err = json.Marshal(out)
		}
	default:
		var m metav1.Object
		if m, err = meta.Accessor(obj); err == nil {
			row.Object.Raw, err = json.Marshal(partialMeta(m, c.tableVersion()))
		}
	}
	return row, err
}
