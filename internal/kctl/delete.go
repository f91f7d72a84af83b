package kctl

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

type deleteOptions struct {
	selectOptions
	cascade, output, dryRun string
	gracePeriod             int
	force, now, wait        bool
	timeout                 time.Duration
}

func newDeleteCommand(f *Factory) *cobra.Command {
	o := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete ([-f FILENAME] | TYPE [(NAME | -l label | --all)])",
		Short: "Delete resources by file names, stdin, resources and names, or by resources and label selector",
		RunE:  func(cmd *cobra.Command, args []string) error { return o.run(f, cmd, args) },
	}
	o.addFlags(cmd, "delete")
	fl := cmd.Flags()
	fl.StringVar(&o.cascade, "cascade", "background", `Must be "background", "orphan", or "foreground". Selects the deletion cascading strategy for the dependents (e.g. Pods created by a ReplicationController). Defaults to background.`)
	fl.Lookup("cascade").NoOptDefVal = "background"
	fl.IntVar(&o.gracePeriod, "grace-period", -1, "Period of time in seconds given to the resource to terminate gracefully. Ignored if negative. Set to 1 for immediate shutdown. Can only be set to 0 when --force is true (force deletion).")
	fl.BoolVar(&o.force, "force", false, "If true, immediately remove resources from API and bypass graceful deletion. Note that immediate deletion of some resources may result in inconsistency or data loss and requires confirmation.")
	fl.BoolVar(&o.now, "now", false, "If true, resources are signaled for immediate shutdown (same as --grace-period=1).")
	fl.BoolVar(&o.wait, "wait", true, "If true, wait for resources to be gone before returning. This waits for finalizers.")
	fl.DurationVar(&o.timeout, "timeout", 0, "The length of time to wait before giving up on a delete, zero means determine a timeout from the size of the object")
	fl.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "Treat \"resource not found\" as a successful delete. Defaults to \"true\" when --all is specified.")
	fl.StringVarP(&o.output, "output", "o", "", "Output mode. Use \"-o name\" for shorter output (resource/name).")
	fl.StringVar(&o.dryRun, "dry-run", "none", `Must be "none", "server", or "client".`)
	return cmd
}

func (o *deleteOptions) run(f *Factory, cmd *cobra.Command, args []string) error {
	if len(args) == 0 && len(o.filenames) == 0 {
		return usageError(cmd.CommandPath(), "You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
	}
	mf := mutateFlags{dryRun: o.dryRun}
	if err := mf.check(); err != nil {
		return err
	}
	if o.all {
		o.ignoreNotFound = true
	}
	if o.now {
		if o.gracePeriod != -1 {
			return fmt.Errorf("--now and --grace-period cannot be specified together")
		}
		o.gracePeriod = 1
	}
	if o.force && o.gracePeriod < 0 {
		o.gracePeriod = 0
	}
	if o.gracePeriod == 0 && !o.force {
		o.gracePeriod = 1 // kubectl turns a bare --grace-period=0 into 1
	}
	cmd.SetContext(withoutNamespaceCheck(cmd.Context()))
	objs, errs, err := o.selectObjects(f, cmd, args)
	if err != nil {
		return err
	}
	if len(objs) == 0 && len(errs) == 0 {
		fmt.Fprintln(f.IO.Out, "No resources found")
		return nil
	}
	if o.gracePeriod == 0 && o.dryRun == "none" {
		fmt.Fprintln(f.IO.ErrOut, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	var deleted []selected
	ns, explicit, _ := f.Namespace()
	warned := false
	for _, s := range objs {
		if explicit && !warned && s.mapping.Scope.Name() != meta.RESTScopeNameNamespace && ns != "" && !o.allNamespaces {
			fmt.Fprintln(f.IO.ErrOut, "Warning: deleting cluster-scoped resources, not scoped to the provided namespace")
			warned = true
		}
		opts := metav1.DeleteOptions{DryRun: mf.dryRunList()}
		policy := metav1.DeletionPropagation(capitalize(o.cascade))
		opts.PropagationPolicy = &policy
		if o.gracePeriod >= 0 {
			g := int64(o.gracePeriod)
			opts.GracePeriodSeconds = &g
		}
		if !mf.client() {
			if err := s.client(dyn).Delete(cmd.Context(), s.obj.GetName(), opts); err != nil {
				if !(o.ignoreNotFound && apierrors.IsNotFound(err)) {
					errs = append(errs, err)
				}
				continue
			}
		}
		o.printDeleted(f, s, mf.suffix())
		deleted = append(deleted, s)
	}
	if o.wait && mf.dryRun == "none" {
		errs = append(errs, o.waitGone(f, cmd, deleted)...)
	}
	return utilerrors.NewAggregate(errs)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func (o *deleteOptions) printDeleted(f *Factory, s selected, suffix string) {
	kn := kindName(s.obj.GroupVersionKind())
	if o.output == "name" {
		fmt.Fprintf(f.IO.Out, "%s/%s\n", kn, s.obj.GetName())
		return
	}
	word := "deleted"
	if o.gracePeriod == 0 {
		word = "force deleted"
	}
	if s.mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		fmt.Fprintf(f.IO.Out, "%s %q %s from %s namespace%s\n", kn, s.obj.GetName(), word, s.obj.GetNamespace(), suffix)
		return
	}
	fmt.Fprintf(f.IO.Out, "%s %q %s%s\n", kn, s.obj.GetName(), word, suffix)
}

// waitGone waits until every deleted object is gone (NotFound or a new
// UID), like kubectl delete --wait.
func (o *deleteOptions) waitGone(f *Factory, cmd *cobra.Command, objs []selected) []error {
	dyn, err := f.Dynamic()
	if err != nil {
		return []error{err}
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = 7 * 24 * time.Hour
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	var errs []error
	for _, s := range objs {
		err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			u, err := s.client(dyn).Get(ctx, s.obj.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			return u.GetUID() != s.obj.GetUID(), nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("timed out waiting for the condition on %s/%s", s.mapping.Resource.Resource, s.obj.GetName()))
		}
	}
	return errs
}
