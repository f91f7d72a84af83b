package kctl

import (
	"github.com/spf13/cobra"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

type createOptions struct {
	fileOptions
	mutateFlags
	record, saveConfig, edit bool
	selector, raw            string
}

func newCreateCommand(f *Factory) *cobra.Command {
	o := &createOptions{}
	cmd := &cobra.Command{
		Use:   "create -f FILENAME",
		Short: "Create a resource from a file or from stdin",
		Long: `Create a resource from a file or from stdin.

 JSON and YAML formats are accepted.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.filenames) == 0 {
				return usageError(cmd.CommandPath(), "Required resource not specified.")
			}
			if o.raw != "" {
				return o.runCreateRaw(f, cmd)
			}
			return o.run(f, cmd)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&o.filenames, "filename", "f", nil, "Filename, directory, or URL to files to use to create the resource")
	fl.BoolVarP(&o.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively. Useful when you want to manage related manifests organized within the same directory.")
	fl.BoolVar(&o.record, "record", false, "Record current kubectl command in the resource annotation.")
	fl.MarkDeprecated("record", "--record will be removed in the future")
	fl.BoolVar(&o.saveConfig, "save-config", false, "If true, the configuration of current object will be saved in its annotation.")
	fl.StringVarP(&o.selector, "selector", "l", "", "Selector (label query) to filter on.")
	fl.BoolVar(&o.edit, "edit", false, "Edit the API resource before creating")
	fl.StringVar(&o.raw, "raw", "", "Raw URI to POST to the server.  Uses the transport specified by the kubeconfig file.")
	fl.BoolVar(&o.convert, "convert", false, "kctl only: rewrite manifests written for removed apiVersions (extensions/v1beta1, ...) before sending them.")
	o.mutateFlags.add(cmd, "kubectl-create", true)
	cmd.AddCommand(createSubcommands(f)...)
	return cmd
}

func (o *createOptions) run(f *Factory, cmd *cobra.Command) error {
	if err := o.check(); err != nil {
		return err
	}
	ns, explicit, err := f.Namespace()
	if err != nil {
		return err
	}
	ms, err := o.fileOptions.read(f.IO.In)
	if err != nil {
		return err
	}
	if o.convert {
		convertManifests(ms)
	}
	r, err := f.resolver()
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range ms {
		mapping, err := r.mappingForObject(m.obj, m.source)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ons, err := objectNamespace(m.obj, ns, explicit)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.record {
			f.recordCommand(m.obj)
		}
		if o.saveConfig {
			if err := setLastApplied(m.obj); err != nil {
				return err
			}
		}
		if o.client() {
			if err := o.print(f.IO.Out, m.obj, "created"); err != nil {
				return err
			}
			continue
		}
		out, err := resourceClient(dyn, mapping, ons).Create(cmd.Context(), m.obj, o.createOptions())
		if err != nil {
			errs = append(errs, withSource("creating", m.source, err))
			continue
		}
		if err := o.print(f.IO.Out, out, "created"); err != nil {
			return err
		}
	}
	return utilerrors.NewAggregate(errs)
}
