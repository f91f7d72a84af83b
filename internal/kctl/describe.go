package kctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"kserver.dev/kserver/internal/kctl/describe"
)

type describeOptions struct {
	fileOptions
	selector      string
	allNamespaces bool
	showEvents    bool
	chunkSize     int64
}

func newDescribeCommand(f *Factory) *cobra.Command {
	o := &describeOptions{}
	cmd := &cobra.Command{
		Use:   "describe (-f FILENAME | TYPE [NAME_PREFIX | -l label] | TYPE/NAME)",
		Short: "Show details of a specific resource or group of resources",
		RunE:  func(cmd *cobra.Command, args []string) error { return o.run(f, cmd, args) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.selector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.(e.g. -l key1=value1,key2=value2,key3 in (value3)). Matching objects must satisfy all of the specified label constraints.")
	fl.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "If present, list the requested object(s) across all namespaces. Namespace in current context is ignored even if specified with --namespace.")
	fl.BoolVar(&o.showEvents, "show-events", true, "If true, display events related to the described object.")
	fl.Int64Var(&o.chunkSize, "chunk-size", 500, "Return large lists in chunks rather than all at once. Pass 0 to disable.")
	fl.StringSliceVarP(&o.filenames, "filename", "f", nil, "Filename, directory, or URL to files containing the resource to describe")
	fl.BoolVarP(&o.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively. Useful when you want to manage related manifests organized within the same directory.")
	return cmd
}

func (o *describeOptions) run(f *Factory, cmd *cobra.Command, args []string) error {
	if len(args) == 0 && len(o.filenames) == 0 {
		return usageError(cmd.CommandPath(), "You must specify the type of resource to describe. Use \"kubectl api-resources\" for a complete list of supported resources.\n")
	}
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	if o.allNamespaces {
		ns = ""
	}
	targets, err := resolveTargets(f, args, o.fileOptions, ns)
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	var objs []unstructured.Unstructured
	var errs []error
	// byPrefix marks objects found by kubectl's name-prefix fallback; they
	// print followed by a newline instead of separated by blank lines.
	byPrefix := map[int]bool{}
	for _, t := range targets {
		tns := ns
		if t.obj != nil && t.obj.GetNamespace() != "" {
			tns = t.obj.GetNamespace()
		}
		rc := resourceClient(dyn, t.mapping, tns)
		if len(t.names) == 0 {
			l, err := rc.List(cmd.Context(), metav1.ListOptions{LabelSelector: o.selector, Limit: o.chunkSize})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			objs = append(objs, l.Items...)
			continue
		}
		for _, n := range t.names {
			u, err := rc.Get(cmd.Context(), n, metav1.GetOptions{})
			if err == nil {
				objs = append(objs, *u)
				continue
			}
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
				continue
			}
			// kubectl falls back to every object whose name starts with n.
			l, lerr := rc.List(cmd.Context(), metav1.ListOptions{LabelSelector: o.selector})
			found := false
			if lerr == nil {
				for _, it := range l.Items {
					if strings.HasPrefix(it.GetName(), n) {
						byPrefix[len(objs)] = true
						objs = append(objs, it)
						found = true
					}
				}
			}
			if !found {
				errs = append(errs, err)
			}
		}
	}
	showEvents := o.showEvents
	if (len(objs) > 1 || len(byPrefix) > 0) && !flagChanged(cmd, "show-events") {
		showEvents = false
	}
	d := &describe.Describer{Client: dyn, ShowEvents: showEvents, ChunkSize: o.chunkSize}
	for i := range objs {
		text, err := d.Describe(cmd.Context(), &objs[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if byPrefix[i] {
			fmt.Fprint(f.IO.Out, text+"\n")
			continue
		}
		if i > 0 {
			fmt.Fprint(f.IO.Out, "\n\n")
		}
		fmt.Fprint(f.IO.Out, text)
	}
	if len(objs) == 0 && len(errs) == 0 {
		// Unlike get, describe names the namespace even for cluster-scoped types.
		if o.allNamespaces {
			fmt.Fprintln(f.IO.ErrOut, "No resources found")
		} else {
			fmt.Fprintf(f.IO.ErrOut, "No resources found in %s namespace.\n", ns)
		}
	}
	return utilerrors.NewAggregate(errs)
}
