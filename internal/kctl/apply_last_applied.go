package kctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// The `apply view-last-applied|set-last-applied|edit-last-applied`
// subcommands: read, overwrite or edit the last-applied-configuration
// annotation that client-side apply diffs against, without changing
// anything else in the object.

func newApplyLastAppliedCommands(f *Factory) []*cobra.Command {
	return []*cobra.Command{newViewLastAppliedCommand(f), newSetLastAppliedCommand(f), newEditLastAppliedCommand(f)}
}

// errNoResources is kubectl's resource builder error for a command given
// neither arguments nor files.
var errNoResources = &ExitError{Code: 1, Msg: "error: You must provide one or more resources by argument or filename.\n" +
	"Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'"}

func newViewLastAppliedCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	output := "yaml"
	cmd := &cobra.Command{
		Use:                   "view-last-applied (TYPE [NAME | -l label] | TYPE/NAME | -f FILENAME)",
		DisableFlagsInUseLine: true,
		Short:                 "View the latest last-applied-configuration annotations of a resource/object",
		Long: "View the latest last-applied-configuration annotations by type/name or file.\n\n The default output will be printed to stdout in YAML format. " +
			"You can use the -o option to change the output format.",
		Example: "  # View the last-applied-configuration annotations by type/name in YAML\n  kubectl apply view-last-applied deployment/nginx\n\n" +
			"  # View the last-applied-configuration annotations by file in JSON\n  kubectl apply view-last-applied -f deploy.yaml -o json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && len(sel.filenames) == 0 {
				return errNoResources
			}
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			if len(errs) > 0 {
				return errs[0]
			}
			var configs []string
			for _, s := range objs {
				c, ok := s.obj.GetAnnotations()[lastAppliedAnnotation]
				if !ok {
					// kubectl's message only reaches the user for objects
					// read from a file; named objects are skipped silently.
					if s.source != "" {
						return fmt.Errorf("error when no last-applied-configuration annotation found on resource: %s\n %q: <nil>", s.obj.GetName(), s.source)
					}
					continue
				}
				configs = append(configs, c)
			}
			for _, c := range configs {
				if err := printLastApplied(f, cmd, c, output); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&sel.all, "all", false, "Select all resources in the namespace of the specified resource types")
	fl.StringSliceVarP(&sel.filenames, "filename", "f", nil, "Filename, directory, or URL to files that contains the last-applied-configuration annotations")
	fl.BoolVarP(&sel.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively. Useful when you want to manage related manifests organized within the same directory.")
	fl.StringVarP(&sel.selector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.(e.g. -l key1=value1,key2=value2,key3 in (value3)). Matching objects must satisfy all of the specified label constraints.")
	fl.StringVarP(&output, "output", "o", output, "Output format. Must be one of (yaml, json)")
	return cmd
}

func printLastApplied(f *Factory, cmd *cobra.Command, config, output string) error {
	switch output {
	case "json":
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(config), "", "  "); err != nil {
			return err
		}
		_, err := f.IO.Out.Write(b.Bytes())
		return err
	case "yaml":
		y, err := yaml.JSONToYAML([]byte(config))
		if err != nil {
			return err
		}
		_, err = f.IO.Out.Write(y)
		return err
	}
	return usageError(cmd.CommandPath(), "Unexpected -o output mode: %s, the flag 'output' must be one of yaml|json", output)
}

func newSetLastAppliedCommand(f *Factory) *cobra.Command {
	var files fileOptions
	var mf mutateFlags
	var create bool
	cmd := &cobra.Command{
		Use:                   "set-last-applied -f FILENAME",
		DisableFlagsInUseLine: true,
		Short:                 "Set the last-applied-configuration annotation on a live object to match the contents of a file",
		Long: "Set the latest last-applied-configuration annotations by setting it to match the contents of a file. This results in the " +
			"last-applied-configuration being updated as though 'kubectl apply -f <file>' was run, without updating any other parts of the object.",
		Example: "  # Set the last-applied-configuration of a resource to match the contents of a file\n  kubectl apply set-last-applied -f deploy.yaml\n\n" +
			"  # Execute set-last-applied against each configuration file in a directory\n  kubectl apply set-last-applied -f path/\n\n" +
			"  # Set the last-applied-configuration of a resource to match the contents of a file; will create the annotation if it does not already exist\n" +
			"  kubectl apply set-last-applied -f deploy.yaml --create-annotation=true",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mf.check(); err != nil {
				return err
			}
			return setLastAppliedFromFiles(f, cmd, files, &mf, create)
		},
	}
	cmd.Flags().StringSliceVarP(&files.filenames, "filename", "f", nil, "Filename, directory, or URL to files that contains the last-applied-configuration annotations")
	cmd.Flags().BoolVar(&create, "create-annotation", false, "Will create 'last-applied-configuration' annotations if current objects doesn't have one")
	mf.add(cmd, "", false)
	return cmd
}

// setLastAppliedFromFiles checks every object of the files first (each
// must exist and, without --create-annotation, carry the annotation), then
// patches the annotations that differ from the file's content.
func setLastAppliedFromFiles(f *Factory, cmd *cobra.Command, files fileOptions, mf *mutateFlags, create bool) error {
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	targets, err := resolveTargets(f, nil, files, ns)
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	type change struct {
		t     target
		live  *unstructured.Unstructured
		patch []byte
	}
	var changes []change
	for _, t := range targets {
		tns := ns
		if t.obj.GetNamespace() != "" {
			tns = t.obj.GetNamespace()
		}
		if t.namespaced() {
			// As kubectl's builder does, the object carries the namespace
			// it goes to, and so does its annotation.
			t.obj.SetNamespace(tns)
		}
		patch, config, err := annotationPatch(t.obj)
		if err != nil {
			return err
		}
		live, err := resourceClient(dyn, t.mapping, tns).Get(cmd.Context(), t.obj.GetName(), metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return err
			}
			return withSource(fmt.Sprintf("retrieving current configuration of:\n%s\nfrom server for:", infoString(t, tns)), t.source, err)
		}
		current, ok := live.GetAnnotations()[lastAppliedAnnotation]
		if !ok && !create {
			return fmt.Errorf("no last-applied-configuration annotation found on resource: %s, to create the annotation, run the command with --create-annotation", t.obj.GetName())
		}
		if stripComments(current) == stripComments(string(config)) {
			fmt.Fprintf(f.IO.Out, "set-last-applied %s: no changes required.\n", t.obj.GetName())
			continue
		}
		changes = append(changes, change{t, live, patch})
	}
	for _, c := range changes {
		out := c.live
		if !mf.client() {
			out, err = resourceClient(dyn, c.t.mapping, c.live.GetNamespace()).Patch(cmd.Context(), c.live.GetName(), types.MergePatchType, c.patch,
				metav1.PatchOptions{DryRun: mf.dryRunList()})
			if err != nil {
				return err
			}
		}
		if err := mf.print(f.IO.Out, out, "configured"); err != nil {
			return err
		}
	}
	return nil
}

// annotationPatch is the merge patch that sets u's last-applied annotation
// to u itself (as compact JSON and a newline, as kubectl writes it), and
// that JSON.
func annotationPatch(u *unstructured.Unstructured) (patch, config []byte, err error) {
	before, err := json.Marshal(u.Object)
	if err != nil {
		return nil, nil, err
	}
	before = append(before, '\n')
	c := u.DeepCopy()
	ann := c.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[lastAppliedAnnotation] = string(before)
	c.SetAnnotations(ann)
	after, err := json.Marshal(c.Object)
	if err != nil {
		return nil, nil, err
	}
	patch, err = jsonpatch.CreateMergePatch(before[:len(before)-1], after)
	return patch, before, err
}

// infoString is how kubectl names an object in "retrieving current
// configuration" errors.
func infoString(t target, ns string) string {
	return fmt.Sprintf("Resource: %q, GroupVersionKind: %q\nName: %q, Namespace: %q", t.mapping.Resource.String(), t.mapping.GroupVersionKind.String(), t.obj.GetName(), ns)
}

func newEditLastAppliedCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	cmd := &cobra.Command{
		Use:                   "edit-last-applied (RESOURCE/NAME | -f FILENAME)",
		DisableFlagsInUseLine: true,
		Short:                 "Edit latest last-applied-configuration annotations of a resource/object",
		Long: "Edit the latest last-applied-configuration annotations of resources from the default editor.\n\n The edit-last-applied command " +
			"allows you to directly edit any API resource you can retrieve via the command-line tools. It will open the editor defined by your " +
			"KUBE_EDITOR, or EDITOR environment variables, or fall back to 'vi' for Linux or 'notepad' for Windows.",
		Example: "  # Edit the last-applied-configuration annotations by type/name in YAML\n  kubectl apply edit-last-applied deployment/nginx\n\n" +
			"  # Edit the last-applied-configuration annotations by file in JSON\n  kubectl apply edit-last-applied -f deploy.yaml -o json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && len(sel.filenames) == 0 {
				return errNoResources
			}
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			if len(errs) > 0 {
				return errs[0]
			}
			var with []selected
			for _, s := range objs {
				if _, ok := s.obj.GetAnnotations()[lastAppliedAnnotation]; ok {
					with = append(with, s)
				}
			}
			if len(with) == 0 {
				return fmt.Errorf("no last-applied-configuration annotation found on resources, to create the annotation, use command `kubectl apply set-last-applied --create-annotation`")
			}
			for _, s := range with {
				if err := editLastApplied(f, cmd, &mf, s); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&sel.filenames, "filename", "f", nil, "Filename, directory, or URL to files to use to edit the resource")
	fl.BoolVarP(&sel.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively. Useful when you want to manage related manifests organized within the same directory.")
	mf.add(cmd, "kubectl-client-side-apply", true)
	fl.MarkHidden("dry-run")
	fl.Bool("windows-line-endings", false, "Defaults to the line ending native to your platform.")
	return cmd
}

const editLastAppliedHeader = `# Please edit the 'last-applied-configuration' annotations below.
# Lines beginning with a '#' will be ignored, and an empty file will abort the edit.
#
`

// editLastApplied opens the editor on one object's annotation and stores
// the edited configuration back into the annotation.
func editLastApplied(f *Factory, cmd *cobra.Command, mf *mutateFlags, s selected) error {
	config := s.obj.GetAnnotations()[lastAppliedAnnotation]
	var body []byte
	var err error
	if mf.output == "json" {
		var b bytes.Buffer
		err = json.Indent(&b, []byte(config), "", "    ")
		body = append(b.Bytes(), '\n')
	} else {
		body, err = yaml.JSONToYAML([]byte(config))
	}
	if err != nil {
		return err
	}
	text := editLastAppliedHeader + string(body)
	for {
		edited, err := runEditor(text)
		if err != nil {
			return err
		}
		if edited == text {
			fmt.Fprintln(f.IO.ErrOut, "Edit cancelled, no changes made.")
			return nil
		}
		content := stripComments(edited)
		if strings.TrimSpace(content) == "" {
			fmt.Fprintln(f.IO.ErrOut, "Edit cancelled, saved file was empty.")
			return nil
		}
		js, err := yaml.YAMLToJSON([]byte(content))
		if err != nil {
			text = editLastAppliedHeader + "# " + strings.ReplaceAll(err.Error(), "\n", "\n# ") + "\n#\n" + content
			continue
		}
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(js); err != nil {
			text = editLastAppliedHeader + "# " + strings.ReplaceAll(err.Error(), "\n", "\n# ") + "\n#\n" + content
			continue
		}
		if u.GetName() == "" {
			tmp, terr := os.CreateTemp("", "kubectl-edit-*.yaml")
			if terr == nil {
				tmp.WriteString(edited)
				tmp.Close()
				fmt.Fprintf(f.IO.ErrOut, "A copy of your changes has been stored to %q\n", tmp.Name())
			}
			return fmt.Errorf("resource name may not be empty")
		}
		return storeEditedLastApplied(f, cmd, mf, s, &u, config)
	}
}

func storeEditedLastApplied(f *Factory, cmd *cobra.Command, mf *mutateFlags, s selected, edited *unstructured.Unstructured, config string) error {
	patch, newConfig, err := annotationPatch(edited)
	if err != nil {
		return err
	}
	// kubectl prints the edited configuration, not the live object.
	if jsonEqual([]byte(config), newConfig) {
		return mf.print(f.IO.Out, edited, "skipped")
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	if _, err := s.client(dyn).Patch(cmd.Context(), s.obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return err
	}
	return mf.print(f.IO.Out, edited, "edited")
}
