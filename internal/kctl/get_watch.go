package kctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
		tbl, err := fetchTable(f, cmd, t, ns, name, tableQuery{selector: o.selector, fieldSelector: o.fieldSelector, chunkSize: o.chunkSize})
		if err != nil {
			return err
		}
		cols = tbl.ColumnDefinitions
		if name == "" {
			rv = tbl.ResourceVersion
		}
		if err := o.printWatchTable(p, tw, tbl, human, "ADDED"); err != nil {
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
			if errors.Is(err, io.EOF) || cmd.Context().Err() != nil {
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
			if err := p.PrintObj(u, f.IO.Out); err != nil {
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
