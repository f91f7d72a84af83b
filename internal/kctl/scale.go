package kctl

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

func newScaleCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var replicas, current int
	var rv string
	cmd := &cobra.Command{
		Use:   "scale [--resource-version=version] [--current-replicas=count] --replicas=COUNT (-f FILENAME | TYPE NAME)",
		Short: "Set a new size for a deployment, replica set, or replication controller",
		RunE: func(cmd *cobra.Command, args []string) error {
			if replicas < 0 {
				return fmt.Errorf("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
			}
			if err := mf.check(); err != nil {
				return err
			}
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			for _, s := range objs {
				if flagChanged(cmd, "current-replicas") || rv != "" {
					if err := checkScalePreconditions(f, cmd, s, current, rv); err != nil {
						errs = append(errs, err)
						continue
					}
				}
				if !mf.client() {
					patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
					if _, err := s.client(dyn).Patch(cmd.Context(), s.obj.GetName(), types.MergePatchType, []byte(patch),
						metav1.PatchOptions{DryRun: mf.dryRunList()}, "scale"); err != nil {
						errs = append(errs, err)
						continue
					}
				}
				if err := mf.print(f.IO.Out, s.obj, "scaled"); err != nil {
					return err
				}
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	sel.addFlags(cmd, "set a new size")
	mf.add(cmd, "", false)
	cmd.Flags().IntVar(&replicas, "replicas", -1, "The new desired number of replicas. Required.")
	cmd.Flags().IntVar(&current, "current-replicas", -1, "Precondition for current size. Requires that the current size of the resource match this value in order to scale. -1 (default) for no condition.")
	cmd.Flags().StringVar(&rv, "resource-version", "", "Precondition for resource version. Requires that the current resource version match this value in order to scale.")
	cmd.Flags().Duration("timeout", 0, "The length of time to wait before giving up on a scale operation, zero means don't wait.")
	return cmd
}

func checkScalePreconditions(f *Factory, cmd *cobra.Command, s selected, current int, rv string) error {
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	sc, err := s.client(dyn).Get(cmd.Context(), s.obj.GetName(), metav1.GetOptions{}, "scale")
	if err != nil {
		return err
	}
	have, _, _ := unstructured.NestedInt64(sc.Object, "spec", "replicas")
	if current >= 0 && int(have) != current {
		return fmt.Errorf("Expected replicas to be %d, was %d", current, have)
	}
	if rv != "" && sc.GetResourceVersion() != rv {
		return fmt.Errorf("Expected resource version to be %s, was %s", rv, sc.GetResourceVersion())
	}
	return nil
}
