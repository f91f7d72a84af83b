package kctl

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	cliprinters "k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/rest"

	"kserver.dev/kserver/internal/kctl/printers"
)

// tableAccept is the Accept header kubectl sends for human-readable output.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

// tableQuery are the list parameters of a Table request.
type tableQuery struct {
	selector, fieldSelector string
	includeObject           bool
	chunkSize               int64
	resourceVersion         string
	watch                   bool
	subresource             string // of a named object only
}

func (q tableQuery) apply(req *rest.Request) *rest.Request {
	if q.selector != "" {
		req = req.Param("labelSelector", q.selector)
	}
	if q.fieldSelector != "" {
		req = req.Param("fieldSelector", q.fieldSelector)
	}
	if q.includeObject {
		req = req.Param("includeObject", "Object")
	}
	return req
}

// fetchTable GETs one object (name set) or the whole list, following
// continue tokens, as one Table.
func fetchTable(f *Factory, cmd *cobra.Command, t target, ns, name string, q tableQuery) (*metav1.Table, error) {
	rc, err := f.REST()
	if err != nil {
		return nil, err
	}
	var all *metav1.Table
	cont := ""
	for {
		path := resourcePath(t.mapping, ns, name)
		if name != "" && q.subresource != "" {
			path = resourcePath(t.mapping, ns, name, q.subresource)
		}
		req := rc.Get().AbsPath(path).SetHeader("Accept", tableAccept)
		if name == "" {
			req = q.apply(req)
			if q.chunkSize > 0 {
				req = req.Param("limit", fmt.Sprint(q.chunkSize))
			}
			if cont != "" {
				req = req.Param("continue", cont)
			}
		} else if q.includeObject {
			req = req.Param("includeObject", "Object")
		}
		res := req.Do(cmd.Context())
		body, err := res.Raw()
		if err != nil {
			return nil, res.Error()
		}
		tbl, err := decodeTable(body)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = tbl
		} else {
			all.Rows = append(all.Rows, tbl.Rows...)
		}
		cont = tbl.Continue
		if name != "" || cont == "" {
			return all, nil
		}
	}
}

// decodeTable parses a Table response and decodes each row's object so
// the printer can read its namespace and labels. A server that answers
// with a plain object or list gets kubectl's fallback NAME/AGE table.
func decodeTable(body []byte) (*metav1.Table, error) {
	var probe metav1.TypeMeta
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, err
	}
	if probe.Kind != "Table" {
		return fallbackTable(body)
	}
	tbl := &metav1.Table{}
	if err := json.Unmarshal(body, tbl); err != nil {
		return nil, err
	}
	for i := range tbl.Rows {
		raw := tbl.Rows[i].Object.Raw
		if len(raw) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("decoding table row: %w", err)
		}
		tbl.Rows[i].Object.Object = u
	}
	return tbl, nil
}

func fallbackTable(body []byte) (*metav1.Table, error) {
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode(body, nil, nil)
	if err != nil {
		return nil, err
	}
	var items []runtime.Object
	if l, ok := obj.(*unstructured.UnstructuredList); ok {
		for i := range l.Items {
			items = append(items, &l.Items[i])
		}
	} else {
		items = []runtime.Object{obj}
	}
	tbl := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"}, {Name: "Age", Type: "string"}}}
	for _, it := range items {
		u := it.(*unstructured.Unstructured)
		tbl.Rows = append(tbl.Rows, metav1.TableRow{
			Cells:  []any{u.GetName(), humanAge(u.GetCreationTimestamp())},
			Object: runtime.RawExtension{Object: u},
		})
	}
	return tbl, nil
}

// printTables is the default and -o wide path of get.
func (o *getOptions) printTables(f *Factory, cmd *cobra.Command, targets []target, ns string) error {
	sep := &separator{w: f.IO.Out}
	tw := cliprinters.GetNewTabWriter(sep)
	withKind := o.showKind || distinctKinds(targets) > 1
	var errs []error
	var sorter *printers.Sorter
	if o.sortBy != "" {
		var err error
		if sorter, err = printers.NewSorter(o.sortBy); err != nil {
			return err
		}
	}
	rows := 0
	var printer cliprinters.ResourcePrinter
	var last *target
	// kubectl's namespace column is sticky: once a namespaced kind was
	// printed with -A, later cluster-scoped kinds keep an empty column.
	withNamespace := false
	for i := range targets {
		t := targets[i]
		tns := ns
		if t.obj != nil && t.obj.GetNamespace() != "" {
			tns = t.obj.GetNamespace()
		}
		tables, terrs := o.tablesFor(f, cmd, t, tns, sorter != nil)
		errs = append(errs, terrs...)
		if last == nil || last.mapping.Resource != t.mapping.Resource {
			tw.Flush()
			tw.SetRememberedWidths(nil)
			if last != nil && !o.noHeaders {
				sep.arm()
			}
			withNamespace = withNamespace || o.allNamespaces && t.namespaced()
			printer = cliprinters.NewTablePrinter(cliprinters.PrintOptions{
				NoHeaders: o.noHeaders, WithNamespace: withNamespace, WithKind: withKind,
				Wide: o.output == "wide", ShowLabels: o.showLabels, ColumnLabels: o.labelColumns,
				Kind: t.mapping.GroupVersionKind.GroupKind(),
			})
			last = &targets[i]
		}
		for _, tbl := range tables {
			if sorter != nil {
				if err := sortTable(sorter, tbl); err != nil {
					return err
				}
			}
			rows += len(tbl.Rows)
			if err := printer.PrintObj(tbl, tw); err != nil {
				return err
			}
		}
	}
	tw.Flush()
	if rows == 0 && len(errs) == 0 && !o.ignoreNotFound {
		noResourcesMessage(f.IO.ErrOut, targets, ns, o.allNamespaces)
	}
	return utilerrors.NewAggregate(errs)
}

// tablesFor fetches the table(s) of one target: the list, or one table per
// named object (NotFound collected as errors, or dropped with
// --ignore-not-found).
func (o *getOptions) tablesFor(f *Factory, cmd *cobra.Command, t target, ns string, withObjects bool) ([]*metav1.Table, []error) {
	q := tableQuery{selector: o.selector, fieldSelector: o.fieldSelector, includeObject: withObjects, chunkSize: o.chunkSize, subresource: o.subresource}
	if len(t.names) == 0 {
		tbl, err := fetchTable(f, cmd, t, ns, "", q)
		if err != nil {
			return nil, []error{err}
		}
		return []*metav1.Table{tbl}, nil
	}
	var out []*metav1.Table
	var errs []error
	for _, n := range t.names {
		tbl, err := fetchTable(f, cmd, t, ns, n, q)
		if err != nil {
			if o.ignoreNotFound && apierrors.IsNotFound(err) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		out = append(out, tbl)
	}
	return out, errs
}

func sortTable(s *printers.Sorter, tbl *metav1.Table) error {
	return s.Sort(len(tbl.Rows), func(i int) map[string]any {
		if u, ok := tbl.Rows[i].Object.Object.(*unstructured.Unstructured); ok {
			return u.Object
		}
		return nil
	}, func(i, j int) { tbl.Rows[i], tbl.Rows[j] = tbl.Rows[j], tbl.Rows[i] })
}
