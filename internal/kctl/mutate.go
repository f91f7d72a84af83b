package kctl

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// mutateFlags are the output and dry-run flags shared by mutating commands.
type mutateFlags struct {
	output, template, dryRun, fieldManager string
	validate                               string
	// record stores the command line in the kubernetes.io/change-cause
	// annotation (--record, deprecated in kubectl but still honoured).
	record bool
}

// addRecord registers kubectl's deprecated --record.
func (m *mutateFlags) addRecord(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&m.record, "record", false, "Record current kubectl command in the resource annotation. If set to false, do not record the command. If set to true, record the command. If not set, default to updating the existing annotation value only if one already exists.")
	_ = cmd.Flags().MarkDeprecated("record", "--record will be removed in the future")
}

func (m *mutateFlags) add(cmd *cobra.Command, manager string, withValidate bool) {
	fl := cmd.Flags()
	fl.StringVarP(&m.output, "output", "o", "", "Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).")
	fl.StringVar(&m.template, "template", "", "Template string or path to template file to use when -o=go-template, -o=go-template-file.")
	fl.StringVar(&m.dryRun, "dry-run", "none", `Must be "none", "server", or "client". If client strategy, only print the object that would be sent, without sending it. If server strategy, submit server-side request without persisting the resource.`)
	fl.Lookup("dry-run").NoOptDefVal = "unchanged"
	fl.Bool("allow-missing-template-keys", true, "If true, ignore any errors in templates when a field or map key is missing in the template. Only applies to golang and jsonpath output formats.")
	fl.Bool("show-managed-fields", false, "If true, keep the managedFields when printing objects in JSON or YAML format.")
	if manager != "" {
		fl.StringVar(&m.fieldManager, "field-manager", manager, "Name of the manager used to track field ownership.")
	}
	if withValidate {
		fl.StringVar(&m.validate, "validate", "strict", `Must be one of: strict (or true), warn, ignore (or false).`)
		fl.Lookup("validate").NoOptDefVal = "strict"
	}
}

// check validates --dry-run like kubectl.
func (m *mutateFlags) check() error {
	switch m.dryRun {
	case "none", "client", "server":
		return nil
	case "unchanged", "true", "false":
		return fmt.Errorf(`--dry-run=%s is no longer supported; use "none", "server" or "client"`, m.dryRun)
	}
	return fmt.Errorf(`Invalid dry-run value (%v). Must be "none", "server", or "client".`, m.dryRun)
}

func (m *mutateFlags) client() bool { return m.dryRun == "client" }

// dryRunList is the dryRun request option.
func (m *mutateFlags) dryRunList() []string {
	if m.dryRun == "server" {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// validation maps --validate to the fieldValidation parameter.
func (m *mutateFlags) validation() string {
	switch strings.ToLower(m.validate) {
	case "warn":
		return "Warn"
	case "ignore", "false":
		return "Ignore"
	}
	return "Strict"
}

func (m *mutateFlags) createOptions() metav1.CreateOptions {
	return metav1.CreateOptions{DryRun: m.dryRunList(), FieldManager: m.fieldManager, FieldValidation: m.validation()}
}

func (m *mutateFlags) patchOptions() metav1.PatchOptions {
	return metav1.PatchOptions{DryRun: m.dryRunList(), FieldManager: m.fieldManager}
}

// suffix is the dry-run note after an operation word.
func (m *mutateFlags) suffix() string {
	switch m.dryRun {
	case "client":
		return " (dry run)"
	case "server":
		return " (server dry run)"
	}
	return ""
}

// print writes the result of an operation: `kind[.group]/name operation`,
// only the name with -o name, or the object with other -o values.
func (m *mutateFlags) print(w io.Writer, obj runtime.Object, operation string) error {
	if m.output == "" {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return fmt.Errorf("cannot print %T", obj)
		}
		_, err := fmt.Fprintf(w, "%s/%s %s%s\n", kindName(u.GroupVersionKind()), u.GetName(), operation, m.suffix())
		return err
	}
	p, err := objectPrinter(m.output, m.template, false)
	if err != nil {
		return err
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.SetManagedFields(nil)
	}
	return p.PrintObj(obj, w)
}

// withSource is kubectl's AddSourceToErr: `error when creating "x.yaml": ...`
// inside an API error's message, or as a plain prefix.
func withSource(verb, source string, err error) error {
	if source == "" || err == nil {
		return err
	}
	if st, ok := err.(apierrors.APIStatus); ok {
		s := st.Status()
		s.Message = fmt.Sprintf("error when %s %q: %v", verb, source, s.Message)
		return &apierrors.StatusError{ErrStatus: s}
	}
	return fmt.Errorf("error when %s %q: %v", verb, source, err)
}

// toUnstructured converts a typed object (with apiVersion and kind set).
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// objectNamespace picks the namespace an object from a file goes to: its
// own, else the command's; an explicit -n that disagrees is an error.
func objectNamespace(u *unstructured.Unstructured, ns string, explicit bool) (string, error) {
	own := u.GetNamespace()
	if own == "" {
		return ns, nil
	}
	if explicit && own != ns {
		return "", fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", own, ns, own)
	}
	return own, nil
}

func sortStrings(s []string) { sort.Strings(s) }
