package kctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

const editHeader = `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
`

// editor is kubectl's: $KUBE_EDITOR, else $EDITOR, else vi. A value
// without spaces is the program; with spaces but no quotes or backslashes
// it is split on spaces; otherwise it runs through $SHELL (else /bin/bash)
// -c, with the file's quoted path appended (shell is then true).
func editor() (args []string, shell bool) {
	e := ""
	for _, v := range []string{"KUBE_EDITOR", "EDITOR"} {
		if e = os.Getenv(v); e != "" {
			break
		}
	}
	switch {
	case e == "":
		return []string{"vi"}, false
	case !strings.Contains(e, " "):
		return []string{e}, false
	case !strings.ContainsAny(e, "\"'\\"):
		return strings.Split(e, " "), false
	}
	sh := os.Getenv("SHELL")
	if sh == "" {
		sh = "/bin/bash"
	}
	return []string{sh, "-c", e}, true
}

func newEditCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var outputPatch bool
	cmd := &cobra.Command{
		Use:   "edit (RESOURCE/NAME | -f FILENAME)",
		Short: "Edit a resource on the server",
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			if len(errs) > 0 {
				return errs[0]
			}
			for _, s := range objs {
				if err := editOne(f, cmd, &mf, s, outputPatch); err != nil {
					return err
				}
			}
			return nil
		},
	}
	sel.addFlags(cmd, "edit")
	cmd.Flags().BoolVar(&outputPatch, "output-patch", false, "Output the patch if the resource is edited.")
	mf.add(cmd, "kubectl-edit", true)
	return cmd
}

func editOne(f *Factory, cmd *cobra.Command, mf *mutateFlags, s selected, outputPatch bool) error {
	orig := s.obj.DeepCopy()
	orig.SetManagedFields(nil)
	body, err := yaml.Marshal(orig.Object)
	if err != nil {
		return err
	}
	origJSON, _ := json.Marshal(orig.Object)
	text := editHeader + string(body)
	for {
		edited, err := runEditor(text)
		if err != nil {
			return err
		}
		content := stripComments(edited)
		if strings.TrimSpace(content) == "" {
			fmt.Fprintln(f.IO.ErrOut, "Edit cancelled, saved file was empty.")
			return nil
		}
		editedJSON, err := yaml.YAMLToJSON([]byte(content))
		if err != nil {
			text = editHeader + "# " + strings.ReplaceAll(err.Error(), "\n", "\n# ") + "\n#\n" + content
			continue
		}
		if jsonEqual(origJSON, editedJSON) {
			fmt.Fprintln(f.IO.ErrOut, "Edit cancelled, no changes made.")
			return nil
		}
		out, perr := patchEdited(f, cmd, mf, s, origJSON, editedJSON, outputPatch)
		if perr == nil {
			return mf.print(f.IO.Out, out, "edited")
		}
		retry := fmt.Sprintf("%s#\n# %s %q was not valid:\n# * %s\n#\n", editHeader, strings.ToLower(s.obj.GetKind())+"s", s.obj.GetName(),
			strings.ReplaceAll(perr.Error(), "\n", "\n# "))
		if text == retry+content {
			tmp, _ := os.CreateTemp("", "kubectl-edit-*.yaml")
			tmp.WriteString(content)
			tmp.Close()
			return fmt.Errorf("Edit cancelled, no valid changes were saved.\nA copy of your changes has been stored to %q\n%v", tmp.Name(), perr)
		}
		text = retry + content
	}
}

func patchEdited(f *Factory, cmd *cobra.Command, mf *mutateFlags, s selected, orig, edited []byte, outputPatch bool) (*unstructured.Unstructured, error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	pt := types.MergePatchType
	var patch []byte
	if typed := typedFor(newScheme(), s.obj.GroupVersionKind()); typed != nil {
		pt = types.StrategicMergePatchType
		patch, err = strategicpatch.CreateTwoWayMergePatch(orig, edited, typed)
	} else {
		patch, err = jsonpatch.CreateMergePatch(orig, edited)
	}
	if err != nil {
		return nil, err
	}
	if outputPatch {
		fmt.Fprintf(f.IO.Out, "Patch: %s\n", patch)
	}
	opts := mf.patchOptions()
	opts.FieldValidation = mf.validation()
	return s.client(dyn).Patch(cmd.Context(), s.obj.GetName(), pt, patch, opts)
}

func runEditor(text string) (string, error) {
	tmp, err := os.CreateTemp("", "kubectl-edit-*.yaml")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text); err != nil {
		return "", err
	}
	tmp.Close()
	editorArgs, shell := editor()
	args := slices.Clone(editorArgs)
	if shell {
		args[len(args)-1] = fmt.Sprintf("%s %q", args[len(args)-1], tmp.Name())
	} else {
		args = append(args, tmp.Name())
	}
	c := exec.Command(args[0], args[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := c.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) && errors.Is(ee.Err, exec.ErrNotFound) {
			return "", fmt.Errorf("unable to launch the editor %q", strings.Join(editorArgs, " "))
		}
		return "", fmt.Errorf("there was a problem with the editor %q", strings.Join(editorArgs, " "))
	}
	b, err := os.ReadFile(tmp.Name())
	return string(b), err
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
