package kctl

import (
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"kserver.dev/kserver/internal/kctl/printers"
)

// printObjects is get's path for -o yaml|json|name|jsonpath|go-template|
// custom-columns: plain objects, one object when a single one was named,
// otherwise a `kind: List`.
func (o *getOptions) printObjects(f *Factory, cmd *cobra.Command, targets []target, ns string) error {
	tmpl, _ := cmd.Flags().GetString("template")
	p, err := objectPrinter(o.output, tmpl, o.noHeaders)
	if err != nil {
		return err
	}
	items, errs := o.collect(f, cmd, targets, ns)
	if o.sortBy != "" {
		s, err := printers.NewSorter(o.sortBy)
		if err != nil {
			return err
		}
		if err := s.Sort(len(items), func(i int) map[string]any { return items[i].Object },
			func(i, j int) { items[i], items[j] = items[j], items[i] }); err != nil {
			return err
		}
	}
	// kubectl: one named object implies a single item, and its error is
	// the whole answer; nothing found with --ignore-not-found prints nothing.
	singleImplied := len(targets) == 1 && len(targets[0].names) == 1
	if singleImplied && len(errs) > 0 || len(items) == 0 && o.ignoreNotFound {
		return utilerrors.NewAggregate(errs)
	}
	single := singleImplied && len(items) == 1
	var obj runtime.Object
	if single {
		obj = &items[0]
	} else {
		obj = &unstructured.UnstructuredList{
			Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}},
			Items:  items,
		}
	}
	if len(items) > 0 || o.output == "json" || o.output == "yaml" || !single {
		if err := p.PrintObj(obj, f.IO.Out); err != nil {
			return err
		}
	}
	return utilerrors.NewAggregate(errs)
}

// collect GETs or LISTs every target, dropping managedFields unless asked.
func (o *getOptions) collect(f *Factory, cmd *cobra.Command, targets []target, ns string) ([]unstructured.Unstructured, []error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, []error{err}
	}
	var items []unstructured.Unstructured
	var errs []error
	for _, t := range targets {
		tns := ns
		if t.obj != nil && t.obj.GetNamespace() != "" {
			tns = t.obj.GetNamespace()
		}
		rc := resourceClient(dyn, t.mapping, tns)
		if len(t.names) == 0 {
			opts := metav1.ListOptions{LabelSelector: o.selector, FieldSelector: o.fieldSelector, Limit: o.chunkSize}
			for {
				l, err := rc.List(cmd.Context(), opts)
				if err != nil {
					errs = append(errs, err)
					break
				}
				items = append(items, l.Items...)
				if opts.Continue = l.GetContinue(); opts.Continue == "" {
					break
				}
			}
			continue
		}
		for _, n := range t.names {
			var sub []string
			if o.subresource != "" {
				sub = []string{o.subresource}
			}
			u, err := rc.Get(cmd.Context(), n, metav1.GetOptions{}, sub...)
			if err != nil {
				if !(o.ignoreNotFound && apierrors.IsNotFound(err)) {
					errs = append(errs, err)
				}
				continue
			}
			items = append(items, *u)
		}
	}
	if !o.showManagedFields {
		for i := range items {
			items[i].SetManagedFields(nil)
		}
	}
	return items, errs
}
