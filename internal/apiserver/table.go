package apiserver

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// table renders storage-version objects as a meta.k8s.io Table with the
// registry's columns. Rows carry a PartialObjectMetadata (includeObject
// Metadata, the default), the full object (Object) or nothing (None).
func (c *call) table(objs []runtime.Object, listRV string, headers bool) (*metav1.Table, error) {
	include := c.r.URL.Query().Get("includeObject")
	switch include {
	case "", "Metadata", "Object", "None":
	default:
		return nil, badRequest("unrecognized includeObject value: %q", include)
	}
	version := c.out.asVersion
	if version == "" {
		version = "v1"
	}
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/" + version}}
	t.ResourceVersion = listRV
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
		row := metav1.TableRow{Cells: cells}
		switch include {
		case "None":
		case "Object":
			served, err := c.toServed(obj)
			if err != nil {
				return nil, err
			}
			if row.Object.Raw, err = json.Marshal(served); err != nil {
				return nil, err
			}
		default:
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, err
			}
			if row.Object.Raw, err = json.Marshal(partialMeta(m, version)); err != nil {
				return nil, err
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}
