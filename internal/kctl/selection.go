package kctl

import (
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// selected is one live object a command acts on.
type selected struct {
	mapping *meta.RESTMapping
	obj     *unstructured.Unstructured
	source  string
}

func (s selected) client(dyn dynamic.Interface) dynamic.ResourceInterface {
	return resourceClient(dyn, s.mapping, s.obj.GetNamespace())
}

// selectOptions choose objects the way kubectl's resource builder does
// for verbs that act on existing objects.
type selectOptions struct {
	fileOptions
	selector, fieldSelector string
	all, allNamespaces      bool
	ignoreNotFound          bool
}

func (s *selectOptions) addFlags(cmd *cobra.Command, what string) {
	fl := cmd.Flags()
	fl.StringSliceVarP(&s.filenames, "filename", "f", nil, "Filename, directory, or URL to files identifying the resource to "+what+".")
	fl.BoolVarP(&s.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively.")
	fl.StringVarP(&s.selector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.(e.g. -l key1=value1,key2=value2,key3 in (value3)).")
	fl.BoolVar(&s.all, "all", false, "Select all resources, in the namespace of the specified resource types")
	fl.BoolVarP(&s.allNamespaces, "all-namespaces", "A", false, "If true, check the specified action in all namespaces.")
	fl.StringVar(&s.fieldSelector, "field-selector", "", "Selector (field query) to filter on, supports '=', '==', and '!='.")
}

// selectObjects resolves args/-f into live objects: named objects are
// fetched, type-only targets are listed with the selector. Without names,
// a selector or --all, it is kubectl's "no name was specified" error.
func (s *selectOptions) selectObjects(f *Factory, cmd *cobra.Command, args []string) ([]selected, []error, error) {
	ns, _, err := f.Namespace()
	if err != nil {
		return nil, nil, err
	}
	if s.allNamespaces {
		ns = ""
	}
	targets, err := resolveTargets(f, args, s.fileOptions, ns)
	if err != nil {
		return nil, nil, err
	}
	if len(targets) == 0 {
		return nil, nil, usageError(cmd.CommandPath(), "You must provide one or more resources by argument or filename.")
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, nil, err
	}
	var out []selected
	var errs []error
	for _, t := range targets {
		tns := ns
		if t.obj != nil && t.obj.GetNamespace() != "" {
			tns = t.obj.GetNamespace()
		}
		rc := resourceClient(dyn, t.mapping, tns)
		if len(t.names) == 0 {
			if s.selector == "" && s.fieldSelector == "" && !s.all && !s.allNamespaces {
				return nil, nil, fmt.Errorf("resource(s) were provided, but no name was specified")
			}
			l, err := rc.List(cmd.Context(), metav1.ListOptions{LabelSelector: s.selector, FieldSelector: s.fieldSelector})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for i := range l.Items {
				out = append(out, selected{mapping: t.mapping, obj: &l.Items[i]})
			}
			continue
		}
		for _, n := range t.names {
			u, err := rc.Get(cmd.Context(), n, metav1.GetOptions{})
			if err != nil {
				if !(s.ignoreNotFound && apierrors.IsNotFound(err)) {
					errs = append(errs, err)
				}
				continue
			}
			out = append(out, selected{mapping: t.mapping, obj: u, source: t.source})
		}
	}
	return out, errs, nil
}
