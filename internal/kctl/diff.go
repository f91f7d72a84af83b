package kctl

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func newDiffCommand(f *Factory) *cobra.Command {
	var fo fileOptions
	var serverSide, forceConflicts bool
	cmd := &cobra.Command{
		Use:   "diff -f FILENAME",
		Short: "Diff the live version against a would-be applied version",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(fo.filenames) == 0 {
				return usageError(cmd.CommandPath(), "Missing filename")
			}
			live, err := os.MkdirTemp("", "LIVE-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(live)
			merged, err := os.MkdirTemp("", "MERGED-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(merged)
			if err := writeDiffTrees(f, cmd, fo, live, merged, serverSide, forceConflicts); err != nil {
				return err
			}
			return runDiff(f, live, merged)
		},
	}
	cmd.Flags().StringSliceVarP(&fo.filenames, "filename", "f", nil, "Filename, directory, or URL to files contains the configuration to diff")
	cmd.Flags().BoolVarP(&fo.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively.")
	cmd.Flags().BoolVar(&serverSide, "server-side", false, "If true, apply runs in the server instead of the client.")
	cmd.Flags().BoolVar(&forceConflicts, "force-conflicts", false, "If true, server-side apply will force the changes against conflicts.")
	return cmd
}

// writeDiffTrees writes the live object and the server's dry-run result
// of applying each manifest into two folders, one file per object.
func writeDiffTrees(f *Factory, cmd *cobra.Command, fo fileOptions, live, merged string, serverSide, force bool) error {
	ns, explicit, err := f.Namespace()
	if err != nil {
		return err
	}
	ms, err := fo.read(f.IO.In)
	if err != nil {
		return err
	}
	r, err := f.resolver()
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	o := &applyOptions{serverSide: serverSide, forceConflicts: force, overwrite: true}
	o.dryRun, o.fieldManager = "server", "kubectl-client-side-apply"
	if serverSide {
		o.fieldManager = "kubectl"
	}
	for _, m := range ms {
		mapping, err := r.mappingForObject(m.obj, m.source)
		if err != nil {
			return err
		}
		ons, err := objectNamespace(m.obj, ns, explicit)
		if err != nil {
			return err
		}
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			m.obj.SetNamespace(ons)
		}
		rc := resourceClient(dyn, mapping, m.obj.GetNamespace())
		cur, err := rc.Get(cmd.Context(), m.obj.GetName(), metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err != nil {
			cur = nil
		}
		result, err := o.dryRunApply(f, cmd, rc, m, cur)
		if err != nil {
			return err
		}
		gvk := mapping.GroupVersionKind
		name := strings.Join([]string{gvk.Group, gvk.Version, gvk.Kind, m.obj.GetNamespace(), m.obj.GetName()}, ".")
		name = strings.TrimPrefix(name, ".")
		if err := writeDiffFile(filepath.Join(live, name), cur); err != nil {
			return err
		}
		if err := writeDiffFile(filepath.Join(merged, name), result); err != nil {
			return err
		}
	}
	return nil
}

func writeDiffFile(p string, u *unstructured.Unstructured) error {
	if u == nil {
		return nil
	}
	c := u.DeepCopy()
	c.SetManagedFields(nil)
	b, err := yaml.Marshal(c.Object)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o600)
}

// runDiff runs $KUBECTL_EXTERNAL_DIFF or `diff -u -N` and passes its exit
// status on: 0 same, 1 different, >1 error.
func runDiff(f *Factory, live, merged string) error {
	args := []string{"diff", "-u", "-N"}
	if ext := os.Getenv("KUBECTL_EXTERNAL_DIFF"); ext != "" {
		args = strings.Fields(ext)
	}
	c := exec.Command(args[0], append(args[1:], live, merged)...)
	c.Stdout, c.Stderr = f.IO.Out, f.IO.ErrOut
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Code: ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("failed to run %q: %w", args[0], err)
	}
	return nil
}
