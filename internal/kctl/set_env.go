package kctl

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// setEnvOptions are `kctl set env`'s own flags.
type setEnvOptions struct {
	sel             selectOptions
	mf              mutateFlags
	containers      string
	from, prefix    string
	keys            []string
	list, overwrite bool
	envParams       []string
}

func newSetEnvCommand(f *Factory) *cobra.Command {
	o := &setEnvOptions{}
	cmd := &cobra.Command{
		Use:   "env RESOURCE/NAME KEY_1=VAL_1 ... KEY_N=VAL_N",
		Short: "Update environment variables on a pod template",
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(f, cmd, args)
		},
	}
	o.sel.addFlags(cmd, "update the environment")
	fl := cmd.Flags()
	fl.StringVarP(&o.containers, "containers", "c", "*", "The names of containers in the selected pod templates to change - may use wildcards")
	fl.StringVar(&o.from, "from", "", "The name of a resource from which to inject environment variables")
	fl.StringVar(&o.prefix, "prefix", "", "Prefix to append to variable names")
	fl.StringSliceVar(&o.keys, "keys", nil, "Comma-separated list of keys to import from specified resource")
	fl.StringArrayVarP(&o.envParams, "env", "e", nil, "Specify a key-value pair for an environment variable to set into each container.")
	fl.BoolVar(&o.list, "list", false, "If true, display the environment and any changes in the standard format. this flag will removed when we have kubectl view env.")
	fl.BoolVar(&o.overwrite, "overwrite", true, "If true, allow environment to be overwritten, otherwise reject updates that overwrite existing environment.")
	o.mf.add(cmd, "kubectl-set", false)
	return cmd
}

func (o *setEnvOptions) run(f *Factory, cmd *cobra.Command, args []string) error {
	res, set, remove, err := splitPairs(append(args, o.envParams...), "environment")
	if err != nil {
		return err
	}
	switch {
	case len(o.sel.filenames) == 0 && len(res) == 0:
		return fmt.Errorf("one or more resources must be specified as <resource> <name> or <resource>/<name>")
	case o.list && o.mf.output != "":
		return fmt.Errorf("--list and --output may not be specified together")
	case len(o.keys) > 0 && o.from == "":
		return fmt.Errorf("when specifying --keys, a configmap or secret must be provided with --from")
	}
	vars := make([]map[string]any, 0, len(set))
	for _, k := range sortedMapKeys(set) {
		vars = append(vars, map[string]any{"name": k, "value": set[k]})
	}
	if o.from != "" {
		fromVars, err := o.varsFrom(f, cmd)
		if err != nil {
			return err
		}
		vars = append(vars, fromVars...)
	}
	for _, v := range vars {
		v["name"] = o.prefix + v["name"].(string)
	}
	objs, errs, err := o.sel.selectObjects(f, cmd, res)
	if err != nil {
		return err
	}
	var names map[string]bool
	if o.containers != "" && o.containers != "*" {
		names = map[string]bool{}
		for _, n := range strings.Split(o.containers, ",") {
			names[n] = true
		}
	}
	for _, s := range objs {
		if o.list {
			if err := listEnv(f.IO.Out, s.obj, names, vars, remove); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		_, err := updateContainers(f, cmd, &o.mf, s, names, envEdit(vars, remove, o.overwrite), "env updated")
		var ow *overwriteError
		if errors.As(err, &ow) {
			err = fmt.Errorf("error: %s/%s %v", s.mapping.Resource.Resource, s.obj.GetName(), ow)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}

var invalidEnvChars = regexp.MustCompile(`[^A-Za-z0-9_]`)

// varsFrom turns every key of the --from ConfigMap or Secret (those of
// --keys only, when given) into a variable referring to it, named as
// kubectl does (upper case, other characters as "_"); the keys are taken in
// sorted order.
func (o *setEnvOptions) varsFrom(f *Factory, cmd *cobra.Command) ([]map[string]any, error) {
	objs, errs, err := (&selectOptions{}).selectObjects(f, cmd, []string{o.from})
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, utilerrors.NewAggregate(errs)
	}
	var out []map[string]any
	for _, s := range objs {
		var ref string
		var data map[string]any
		switch s.obj.GetKind() {
		case "Secret":
			ref = "secretKeyRef"
			data, _, _ = unstructured.NestedMap(s.obj.Object, "data")
		case "ConfigMap":
			ref = "configMapKeyRef"
			data, _, _ = unstructured.NestedMap(s.obj.Object, "data")
		default:
			return nil, fmt.Errorf("unsupported resource specified in --from")
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			if len(o.keys) == 0 || contains(o.keys, k) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := strings.ToUpper(invalidEnvChars.ReplaceAllString(k, "_"))
			if name != k {
				fmt.Fprintf(f.IO.ErrOut, "Warning: key %s transferred to %s\n", k, name)
			}
			out = append(out, map[string]any{"name": name, "valueFrom": map[string]any{ref: map[string]any{"name": s.obj.GetName(), "key": k}}})
		}
	}
	return out, nil
}

// envEdit sets vars (replacing a variable of the same name where it is,
// appending others) and removes the names in remove. Without overwrite, a
// variable that already has another value is an error.
func envEdit(vars []map[string]any, remove []string, overwrite bool) containerEdit {
	return func(c map[string]any) (bool, error) {
		env, _ := c["env"].([]any)
		changed := false
		for _, v := range vars {
			done := false
			for i, e := range env {
				m := e.(map[string]any)
				if m["name"] != v["name"] {
					continue
				}
				done = true
				if reflect.DeepEqual(m, v) {
					continue
				}
				if !overwrite {
					return false, &overwriteError{fmt.Sprintf("'%s' already has a value (%v), and --overwrite is false", m["name"], valueOr(m["value"]))}
				}
				env[i] = copyEnvVar(v)
				changed = true
			}
			if !done {
				env = append(env, copyEnvVar(v))
				changed = true
			}
		}
		for _, k := range remove {
			for i, e := range env {
				if e.(map[string]any)["name"] == k {
					env = append(env[:i], env[i+1:]...)
					changed = true
					break
				}
			}
		}
		c["env"] = env
		if len(env) == 0 {
			delete(c, "env")
		}
		return changed, nil
	}
}

// overwriteError is a variable that --overwrite=false keeps from changing.
type overwriteError struct{ msg string }

func (e *overwriteError) Error() string { return e.msg }

func valueOr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func copyEnvVar(v map[string]any) map[string]any { return runtime.DeepCopyJSON(v) }

// listEnv prints each selected container's environment with the changes
// applied, in kubectl's `--list` format: values as KEY=VALUE, references as
// comments naming their source.
func listEnv(w io.Writer, obj *unstructured.Unstructured, names map[string]bool, vars []map[string]any, remove []string) error {
	base := podSpecPath(obj.GetKind())
	edit := envEdit(vars, remove, true)
	for _, field := range []string{"containers", "initContainers"} {
		cs, _, _ := unstructured.NestedSlice(obj.Object, append(base, field)...)
		for _, x := range cs {
			c := x.(map[string]any)
			name, _ := c["name"].(string)
			if names != nil && !names[name] {
				continue
			}
			if _, err := edit(c); err != nil {
				return err
			}
			fmt.Fprintf(w, "# %s %s, container %s\n", obj.GetKind(), obj.GetName(), name)
			env, _ := c["env"].([]any)
			for _, e := range env {
				m := e.(map[string]any)
				from, ok := m["valueFrom"].(map[string]any)
				if !ok {
					fmt.Fprintf(w, "%s=%s\n", m["name"], valueOr(m["value"]))
					continue
				}
				fmt.Fprintf(w, "# %s from %s\n", m["name"], envRefString(from))
			}
		}
	}
	return nil
}

// envRefString is kubectl's description of a valueFrom.
func envRefString(from map[string]any) string {
	str := func(path ...string) string { s, _, _ := unstructured.NestedString(from, path...); return s }
	switch {
	case from["configMapKeyRef"] != nil:
		return fmt.Sprintf("configmap %s, key %s", str("configMapKeyRef", "name"), str("configMapKeyRef", "key"))
	case from["secretKeyRef"] != nil:
		return fmt.Sprintf("secret %s, key %s", str("secretKeyRef", "name"), str("secretKeyRef", "key"))
	case from["fieldRef"] != nil:
		return "field path " + str("fieldRef", "fieldPath")
	case from["resourceFieldRef"] != nil:
		prefix := ""
		if c := str("resourceFieldRef", "containerName"); c != "" {
			prefix = c + "/"
		}
		return "resource field " + prefix + str("resourceFieldRef", "resource")
	}
	return "invalid valueFrom"
}
