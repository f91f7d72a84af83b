package kctl

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/yaml"
)

func newPatchCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var patch, patchFile, ptype, subresource string
	cmd := &cobra.Command{
		Use:   "patch (-f FILENAME | TYPE NAME) [-p PATCH|--patch-file FILE]",
		Short: "Update fields of a resource",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mf.check(); err != nil {
				return err
			}
			if patchFile != "" {
				b, err := os.ReadFile(patchFile)
				if err != nil {
					return fmt.Errorf("unable to read patch file: %v", err)
				}
				patch = string(b)
			}
			if patch == "" {
				return usageError(cmd.CommandPath(), "Must specify -p to patch")
			}
			body, err := yaml.YAMLToJSON([]byte(patch))
			if err != nil {
				return fmt.Errorf("unable to parse %q: %v", patch, err)
			}
			pt, ok := map[string]types.PatchType{"json": types.JSONPatchType, "merge": types.MergePatchType, "strategic": types.StrategicMergePatchType}[ptype]
			if !ok {
				return fmt.Errorf("--type must be one of [json merge strategic], not %q", ptype)
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
				if pt == types.StrategicMergePatchType && typedFor(newScheme(), s.obj.GroupVersionKind()) == nil && !flagChanged(cmd, "type") {
					pt = types.MergePatchType
				}
				var subs []string
				if subresource != "" {
					subs = []string{subresource}
				}
				out, err := s.client(dyn).Patch(cmd.Context(), s.obj.GetName(), pt, body, mf.patchOptions(), subs...)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				word := "patched"
				before, _ := json.Marshal(s.obj.Object)
				after, _ := json.Marshal(out.Object)
				if reflect.DeepEqual(before, after) {
					word = "patched (no change)"
				}
				if err := mf.print(f.IO.Out, out, word); err != nil {
					return err
				}
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	sel.addFlags(cmd, "update")
	mf.add(cmd, "kubectl-patch", false)
	cmd.Flags().StringVarP(&patch, "patch", "p", "", "The patch to be applied to the resource JSON file.")
	cmd.Flags().StringVar(&patchFile, "patch-file", "", "A file containing a patch to be applied to the resource.")
	cmd.Flags().StringVar(&ptype, "type", "strategic", "The type of patch being provided; one of [json merge strategic]")
	cmd.Flags().StringVar(&subresource, "subresource", "", "If specified, patch will operate on the subresource of the requested object.")
	return cmd
}
