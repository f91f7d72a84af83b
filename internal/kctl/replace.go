package kctl

import (
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

func newReplaceCommand(f *Factory) *cobra.Command {
	var fo fileOptions
	var mf mutateFlags
	var force bool
	cmd := &cobra.Command{
		Use:   "replace -f FILENAME",
		Short: "Replace a resource by file name or stdin",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(fo.filenames) == 0 {
				return usageError(cmd.CommandPath(), "must specify --filename to replace")
			}
			if err := mf.check(); err != nil {
				return err
			}
			ns, explicit, err := f.Namespace()
			if err != nil {
				return err
			}
			ms, err := fo.read(f.IO.In)
			if err != nil {
				return err
			}
			if fo.convert {
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
				rc := resourceClient(dyn, mapping, ons)
				if force {
					if err := rc.Delete(cmd.Context(), m.obj.GetName(), metav1.DeleteOptions{}); err != nil {
						errs = append(errs, err)
						continue
					}
					mf.print(f.IO.Out, m.obj, "deleted")
					m.obj.SetResourceVersion("")
					out, err := rc.Create(cmd.Context(), m.obj, mf.createOptions())
					if err != nil {
						errs = append(errs, withSource("replacing", m.source, err))
						continue
					}
					mf.print(f.IO.Out, out, "replaced")
					continue
				}
				if m.obj.GetResourceVersion() == "" {
					cur, err := rc.Get(cmd.Context(), m.obj.GetName(), metav1.GetOptions{})
					if err != nil {
						errs = append(errs, withSource("replacing", m.source, err))
						continue
					}
					m.obj.SetResourceVersion(cur.GetResourceVersion())
				}
				if mf.client() {
					mf.print(f.IO.Out, m.obj, "replaced")
					continue
				}
				out, err := rc.Update(cmd.Context(), m.obj, metav1.UpdateOptions{DryRun: mf.dryRunList(), FieldManager: mf.fieldManager, FieldValidation: mf.validation()})
				if err != nil {
					errs = append(errs, withSource("replacing", m.source, err))
					continue
				}
				if err := mf.print(f.IO.Out, out, "replaced"); err != nil {
					return err
				}
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	cmd.Flags().StringSliceVarP(&fo.filenames, "filename", "f", nil, "The files that contain the configurations to replace.")
	cmd.Flags().BoolVarP(&fo.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively.")
	cmd.Flags().BoolVar(&force, "force", false, "If true, immediately remove resources from API and bypass graceful deletion. Note that immediate deletion of some resources may result in inconsistency or data loss and requires confirmation.")
	cmd.Flags().BoolVar(&fo.convert, "convert", false, "kctl only: rewrite manifests written for removed apiVersions before replacing.")
	mf.add(cmd, "kubectl-replace", true)
	return cmd
}
