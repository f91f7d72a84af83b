package printers

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	cliprinters "k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"
)

// Column is one custom column: its header as given and its JSONPath.
type Column struct {
	Header string
	Path   string
}

// CustomColumns prints objects as the columns of -o custom-columns.
type CustomColumns struct {
	Columns   []Column
	NoHeaders bool
	parsers   []*jsonpath.JSONPath
	printed   bool
}

// ParseCustomColumns reads the `HDR:path,HDR2:path2` spec.
func ParseCustomColumns(spec string, noHeaders bool) (*CustomColumns, error) {
	if spec == "" {
		return nil, fmt.Errorf("custom-columns format specified but no custom columns given")
	}
	var cols []Column
	for _, part := range strings.Split(spec, ",") {
		hdr, path, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", part)
		}
		cols = append(cols, Column{Header: hdr, Path: path})
	}
	return newCustomColumns(cols, noHeaders)
}

// ReadCustomColumnsFile reads the two-line template form: headers, then
// paths, separated by whitespace.
func ReadCustomColumnsFile(r io.Reader, noHeaders bool) (*CustomColumns, error) {
	sc := bufio.NewScanner(r)
	var lines [][]string
	for sc.Scan() && len(lines) < 2 {
		lines = append(lines, strings.Fields(sc.Text()))
	}
	if len(lines) < 2 {
		return nil, fmt.Errorf("unexpected custom-columns template: expected a line of headers and a line of paths")
	}
	if len(lines[0]) != len(lines[1]) {
		return nil, fmt.Errorf("number of headers (%d) does not match number of paths (%d)", len(lines[0]), len(lines[1]))
	}
	var cols []Column
	for i := range lines[0] {
		cols = append(cols, Column{Header: lines[0][i], Path: lines[1][i]})
	}
	return newCustomColumns(cols, noHeaders)
}

func newCustomColumns(cols []Column, noHeaders bool) (*CustomColumns, error) {
	p := &CustomColumns{Columns: cols, NoHeaders: noHeaders}
	for _, c := range cols {
		expr, err := RelaxedJSONPath(c.Path)
		if err != nil {
			return nil, err
		}
		jp := jsonpath.New(c.Header).AllowMissingKeys(true)
		if err := jp.Parse(expr); err != nil {
			return nil, err
		}
		p.parsers = append(p.parsers, jp)
	}
	return p, nil
}

// PrintObj prints obj (or each item of a list) as one row per object; the
// header goes out with the first call.
func (p *CustomColumns) PrintObj(obj runtime.Object, out io.Writer) error {
	w := cliprinters.GetNewTabWriter(out)
	defer w.Flush()
	if !p.NoHeaders && !p.printed {
		hdrs := make([]string, len(p.Columns))
		for i, c := range p.Columns {
			hdrs[i] = c.Header
		}
		fmt.Fprintln(w, strings.Join(hdrs, "\t"))
	}
	p.printed = true
	if meta.IsListType(obj) {
		items, err := meta.ExtractList(obj)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := p.row(it, w); err != nil {
				return err
			}
		}
		return nil
	}
	return p.row(obj, w)
}

func (p *CustomColumns) row(obj runtime.Object, w io.Writer) error {
	data, err := toMap(obj)
	if err != nil {
		return err
	}
	cells := make([]string, len(p.parsers))
	for i, jp := range p.parsers {
		results, err := jp.FindResults(data)
		if err != nil {
			return err
		}
		var vals []string
		for _, set := range results {
			for _, v := range set {
				vals = append(vals, valueString(v))
			}
		}
		cells[i] = strings.Join(vals, ",")
		if len(vals) == 0 {
			cells[i] = "<none>"
		}
	}
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteByte('\t')
		}
		cliprinters.WriteEscaped(&b, c)
	}
	b.WriteByte('\n')
	_, err = io.WriteString(w, b.String())
	return err
}

func valueString(v reflect.Value) string {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "<nil>"
		}
		v = v.Elem()
	}
	return fmt.Sprintf("%v", v.Interface())
}

func toMap(obj runtime.Object) (map[string]any, error) {
	if u, ok := obj.(runtime.Unstructured); ok {
		return u.UnstructuredContent(), nil
	}
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}
