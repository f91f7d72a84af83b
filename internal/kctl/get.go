package kctl

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// getOptions are `kctl get`'s flags.
type getOptions struct {
	fileOptions
	output, selector, fieldSelector, sortBy string
	labelColumns                            []string
	allNamespaces, watch, watchOnly         bool
	showLabels, noHeaders, showKind         bool
	ignoreNotFound, showManagedFields       bool
	outputWatchEvents                       bool
	chunkSize                               int64
	raw, subresource                        string
}

const getLong = `Display one or many resources.

 Prints a table of the most important information about the specified resources. You can filter the list using a label
selector and the --selector flag. If the desired resource type is namespaced you will only see results in the current
namespace unless you pass --all-namespaces.

Use "kctl api-resources" for a complete list of supported resources.`

func newGetCommand(f *Factory) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get [(-o|--output=)json|yaml|name|go-template|go-template-file|template|templatefile|jsonpath|jsonpath-as-json|jsonpath-file|custom-columns|custom-columns-file|wide] (TYPE[.VERSION][.GROUP] [NAME | -l label] | TYPE[.VERSION][.GROUP]/NAME ...) [flags]",
		Short: "Display one or many resources",
		Long:  getLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.output == "" && !flagChanged(cmd, "output") && f.Prefs.Output != "" {
				o.output = f.Prefs.Output
			}
			return o.run(f, cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.output, "output", "o", "", "Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file, custom-columns, custom-columns-file, wide).")
	fl.StringVarP(&o.selector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.(e.g. -l key1=value1,key2=value2,key3 in (value3)). Matching objects must satisfy all of the specified label constraints.")
	fl.StringVar(&o.fieldSelector, "field-selector", "", "Selector (field query) to filter on, supports '=', '==', and '!='.(e.g. --field-selector key1=value1,key2=value2). The server only supports a limited number of field queries per type.")
	fl.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "If present, list the requested object(s) across all namespaces. Namespace in current context is ignored even if specified with --namespace.")
	fl.BoolVarP(&o.watch, "watch", "w", false, "After listing/getting the requested object, watch for changes.")
	fl.BoolVar(&o.watchOnly, "watch-only", false, "Watch for changes to the requested object(s), without listing/getting first.")
	fl.BoolVar(&o.outputWatchEvents, "output-watch-events", false, "Output watch event objects when --watch or --watch-only is used. Existing objects are output as initial ADDED events.")
	fl.BoolVar(&o.showLabels, "show-labels", false, "When printing, show all labels as the last column (default hide labels column)")
	fl.StringSliceVarP(&o.labelColumns, "label-columns", "L", nil, "Accepts a comma separated list of labels that are going to be presented as columns. Names are case-sensitive. You can also use multiple flag options like -L label1 -L label2...")
	fl.StringVar(&o.sortBy, "sort-by", "", "If non-empty, sort list types using this field specification.  The field specification is expressed as a JSONPath expression (e.g. '{.metadata.name}').")
	fl.BoolVar(&o.noHeaders, "no-headers", false, "When using the default or custom-column output format, don't print headers (default print headers).")
	fl.BoolVar(&o.showKind, "show-kind", false, "If present, list the resource type for the requested object(s).")
	fl.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "If set to true, suppresses NotFound error for specific objects that do not exist. Using this flag with commands that query for collections of resources has no effect when no resources are found.")
	fl.BoolVar(&o.showManagedFields, "show-managed-fields", false, "If true, keep the managedFields when printing objects in JSON or YAML format.")
	fl.StringVar(&o.subresource, "subresource", "", "If specified, gets the subresource of the requested object.")
	fl.StringVar(&o.raw, "raw", "", "Raw URI to request from the server.  Uses the transport specified by the kubeconfig file.")
	fl.Int64Var(&o.chunkSize, "chunk-size", 500, "Return large lists in chunks rather than all at once. Pass 0 to disable.")
	fl.StringSliceVarP(&o.filenames, "filename", "f", nil, "Filename, directory, or URL to files identifying the resource to get from a server.")
	fl.BoolVarP(&o.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively. Useful when you want to manage related manifests organized within the same directory.")
	fl.Bool("allow-missing-template-keys", true, "If true, ignore any errors in templates when a field or map key is missing in the template. Only applies to golang and jsonpath output formats.")
	fl.String("template", "", "Template string or path to template file to use when -o=go-template, -o=go-template-file. The template format is golang templates [http://golang.org/pkg/text/template/#pkg-overview].")
	return cmd
}

// humanReadable reports whether -o selects server-side printed tables.
func (o *getOptions) humanReadable() bool { return o.output == "" || o.output == "wide" }

func (o *getOptions) run(f *Factory, cmd *cobra.Command, args []string) error {
	if o.raw != "" {
		return o.runGetRaw(f, cmd, args)
	}
	if len(args) == 0 && len(o.filenames) == 0 {
		fmt.Fprint(f.IO.ErrOut, "You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete list of supported resources.\n\n")
		return &ExitError{Code: 1, Msg: "error: Required resource not specified.\nUse \"kubectl explain <resource>\" for a detailed description of that resource (e.g. kubectl explain pods).\nSee 'kubectl get -h' for help and examples"}
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
	if o.subresource != "" {
		for _, t := range targets {
			if len(t.names) == 0 {
				return fmt.Errorf("subresource cannot be used when bulk resources are specified")
			}
		}
	}
	if o.sortBy != "" && (o.watch || o.watchOnly) {
		fmt.Fprintln(f.IO.ErrOut, "warning: --watch requested, --sort-by will be ignored for watch events received")
	}
	if o.watch || o.watchOnly {
		return o.runWatch(f, cmd, targets, ns)
	}
	if o.humanReadable() {
		return o.printTables(f, cmd, targets, ns)
	}
	return o.printObjects(f, cmd, targets, ns)
}

// resolveTargets parses arguments or reads -f files into targets.
func resolveTargets(f *Factory, args []string, fo fileOptions, ns string) ([]target, error) {
	r, err := f.resolver()
	if err != nil {
		return nil, err
	}
	if len(fo.filenames) == 0 {
		return r.parseArgs(args)
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well")
	}
	ms, err := fo.read(f.IO.In)
	if err != nil {
		return nil, err
	}
	if fo.convert {
		convertManifests(ms)
	}
	var out []target
	for _, m := range ms {
		mp, err := r.mappingForObject(m.obj, m.source)
		if err != nil {
			return nil, err
		}
		t := target{mapping: mp, names: []string{m.obj.GetName()}, obj: m.obj, source: m.source}
		out = append(out, t)
	}
	return out, nil
}

// distinctKinds counts the group-kinds among targets, which decides the
// `kind/` prefix on names.
func distinctKinds(ts []target) int {
	seen := map[schema.GroupKind]bool{}
	for _, t := range ts {
		seen[t.mapping.GroupVersionKind.GroupKind()] = true
	}
	return len(seen)
}

// noResourcesMessage is kubectl's stderr line for an empty result.
func noResourcesMessage(w io.Writer, ts []target, ns string, allNamespaces bool) {
	allNamespaced := len(ts) > 0
	for _, t := range ts {
		if !t.namespaced() {
			allNamespaced = false
		}
	}
	if allNamespaced && !allNamespaces {
		fmt.Fprintf(w, "No resources found in %s namespace.\n", ns)
		return
	}
	fmt.Fprintln(w, "No resources found")
}

// separator writes one blank line before the first write after arm(),
// which keeps empty groups of a multi-kind listing from adding blank lines.
type separator struct {
	w     io.Writer
	armed bool
	wrote bool
}

func (s *separator) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.armed {
		s.armed = false
		if _, err := s.w.Write([]byte("\n")); err != nil {
			return 0, err
		}
	}
	s.wrote = true
	return s.w.Write(p)
}

func (s *separator) arm() { s.armed = s.wrote }
