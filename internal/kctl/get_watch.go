package kctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	cliprinters "k8s.io/cli-runtime/pkg/printers"
)

// runWatch is `get -w` / `--watch-only`: print the current state (unless
// --watch-only), then one row per change until the server ends the stream.
func (o *getOptions) runWatch(f *Factory, cmd *cobra.Command, targets []target, ns string) error {
	if len(targets) != 1 || len(targets[0].names) > 1 {
		return fmt.Errorf("watch is only supported on individual resources and resource collections, but %d resources were found", max(len(targets), 2))
	}
	t := targets[0]
	name := ""
	if len(t.names) == 1 {
		name = t.names[0]
	}
	human := o.humanReadable()
	var p cliprinters.ResourcePrinter
	if human {
		p = cliprinters.NewTablePrinter(cliprinters.PrintOptions{
			NoHeaders: o.noHeaders, WithNamespace: o.allNamespaces && t.namespaced(), WithKind: o.showKind,
			Wide: o.output == "wide", ShowLabels: o.showLabels, ColumnLabels: o.labelColumns,
			Kind: t.mapping.GroupVersionKind.GroupKind()})
	} else {
		tmpl, _ := cmd.Flags().GetString("template")
		var err error
		if p, err = objectPrinter(o.output, tmpl, o.noHeaders); err != nil {
			return err
		}
	}
	tw := cliprinters.GetNewTabWriter(f.IO.Out)
	q := tableQuery{selector: o.selector, fieldSelector: o.fieldSelector}
	rv := "0"
	var cols []metav1.TableColumnDefinition
	if !o.watchOnly {
		tbl, err := fetchTable(f, cmd, t, ns, name, tableQuery{selector: o.selector, fieldSelector: o.fieldSelector, chunkSize: o.chunkSize, includeObject: !human})
		if err != nil {
			return err
		}
		cols = tbl.ColumnDefinitions
		if name == "" {
			rv = tbl.ResourceVersion
		}
		if human {
			err = o.printWatchTable(p, tw, tbl, human, "ADDED")
		} else {
			err = o.printWatchObjects(p, f.IO.Out, tbl)
		}
		if err != nil {
			return err
		}
	}
	if name != "" {
		q.fieldSelector = "metadata.name=" + name
	}
	return o.streamWatch(f, cmd, t, ns, q, rv, cols, p, tw, human, name != "" && !o.watchOnly)
}

func (o *getOptions) streamWatch(f *Factory, cmd *cobra.Command, t target, ns string, q tableQuery, rv string,
	cols []metav1.TableColumnDefinition, p cliprinters.ResourcePrinter, tw interface {
		io.Writer
		Flush() error
	}, human, skipFirst bool) error {
	rc, err := f.REST()
	if err != nil {
		return err
	}
	req := q.apply(rc.Get().AbsPath(resourcePath(t.mapping, ns, ""))).Param("watch", "true").Param("resourceVersion", rv)
	if human {
		req = req.SetHeader("Accept", tableAccept)
	}
	stream, err := req.Stream(cmd.Context())
	if err != nil {
		return err
	}
	defer stream.Close()
	dec := json.NewDecoder(stream)
	for {
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			// client-go's watcher ends quietly when the stream closes or
			// --request-timeout runs out; kubectl then exits 0.
			if errors.Is(err, io.EOF) || cmd.Context().Err() != nil || utilnet.IsProbableEOF(err) ||
				utilnet.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
		if skipFirst && ev.Type == "ADDED" {
			skipFirst = false
			continue
		}
		skipFirst = false
		if ev.Type == "ERROR" {
			return fmt.Errorf("watch error: %s", string(ev.Object))
		}
		if ev.Type == "BOOKMARK" {
			continue
		}
		if !human {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(ev.Object); err != nil {
				return err
			}
			var obj runtime.Object = u
			switch {
			case o.outputWatchEvents:
				obj = &metav1.WatchEvent{Type: ev.Type, Object: runtime.RawExtension{Object: u}}
			case !o.showManagedFields:
				u.SetManagedFields(nil)
			}
			if err := p.PrintObj(obj, f.IO.Out); err != nil {
				return err
			}
			continue
		}
		tbl, err := decodeTable(ev.Object)
		if err != nil {
			return err
		}
		if len(tbl.ColumnDefinitions) == 0 {
			tbl.ColumnDefinitions = cols
		}
		cols = tbl.ColumnDefinitions
		if err := o.printWatchTable(p, tw, tbl, human, ev.Type); err != nil {
			return err
		}
	}
}

func (o *getOptions) printWatchTable(p cliprinters.ResourcePrinter, tw interface {
	io.Writer
	Flush() error
}, tbl *metav1.Table, human bool, event string) error {
	var obj runtime.Object = tbl
	if o.outputWatchEvents {
		obj = &metav1.WatchEvent{Type: event, Object: runtime.RawExtension{Object: tbl}}
	}
	if err := p.PrintObj(obj, tw); err != nil {
		return err
	}
	return tw.Flush()
}

// printWatchObjects prints the objects of a listing's rows one by one, as
// the first events of a watch in a non-table format.
func (o *getOptions) printWatchObjects(p cliprinters.ResourcePrinter, w io.Writer, tbl *metav1.Table) error {
	for _, row := range tbl.Rows {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(row.Object.Raw); err != nil {
			return err
		}
		var obj runtime.Object = u
		// kubectl's printer drops managedFields from objects, not from
		// the watch events wrapping them.
		if !o.showManagedFields && !o.outputWatchEvents {
			u.SetManagedFields(nil)
		}
		if o.outputWatchEvents {
			obj = &metav1.WatchEvent{Type: "ADDED", Object: runtime.RawExtension{Object: u}}
		}
		if err := p.PrintObj(obj, w); err != nil {
			return err
		}
	}
	return nil
}
