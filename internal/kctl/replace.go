package kctl

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

func newReplaceCommand(f *Factory) *cobra.Command {
	var fo fileOptions
	var mf mutateFlags
	var force bool
	var grace int
	var timeout time.Duration
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
					out, err := forceReplace(f, cmd, &mf, rc, ons, selected{mapping: mapping, obj: m.obj, source: m.source}, grace, timeout)
					if err != nil {
						errs = append(errs, err)
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
	cmd.Flags().IntVar(&grace, "grace-period", -1, "Period of time in seconds given to the resource to terminate gracefully. Ignored if negative. Set to 1 for immediate shutdown. Can only be set to 0 when --force is true (force deletion).")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "The length of time to wait before giving up on a delete, zero means determine a timeout from the size of the object")
	cmd.Flags().BoolVar(&fo.convert, "convert", false, "kctl only: rewrite manifests written for removed apiVersions before replacing.")
	mf.add(cmd, "kubectl-replace", true)
	return cmd
}

// forceReplace is replace --force: delete the object, wait (polling every
// second, five minutes unless --timeout) until it is gone — a pod takes its
// grace period — then create it from the manifest.
func forceReplace(f *Factory, cmd *cobra.Command, mf *mutateFlags, rc dynamic.ResourceInterface, ns string, s selected, grace int, timeout time.Duration) (*unstructured.Unstructured, error) {
	opts := metav1.DeleteOptions{}
	if grace >= 0 {
		g := int64(grace)
		opts.GracePeriodSeconds = &g
	}
	if err := rc.Delete(cmd.Context(), s.obj.GetName(), opts); err != nil {
		return nil, err
	}
	shown := selected{mapping: s.mapping, obj: s.obj.DeepCopy()}
	if s.mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		shown.obj.SetNamespace(ns)
	}
	(&deleteOptions{gracePeriod: -1, output: mf.output}).printDeleted(f, shown, "") // kubectl says "deleted" here even with --grace-period=0
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	err := wait.PollUntilContextTimeout(cmd.Context(), time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := rc.Get(ctx, s.obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return nil, err
	}
	s.obj.SetResourceVersion("")
	out, err := rc.Create(cmd.Context(), s.obj, mf.createOptions())
	if err != nil {
		return nil, withSource("replacing", s.source, err)
	}
	return out, nil
}
