package kctl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation"
)

// metaEdit is `label` or `annotate`: both set and remove keys of one
// metadata map with a merge patch.
type metaEdit struct {
	selectOptions
	mutateFlags
	field           string // "labels" or "annotations"
	overwrite, list bool
	resourceVersion string
}

func newLabelCommand(f *Factory) *cobra.Command {
	return newMetaEditCommand(f, "labels", "label [--overwrite] (-f FILENAME | TYPE NAME) KEY_1=VAL_1 ... KEY_N=VAL_N [--resource-version=version]", "Update the labels on a resource", "kubectl-label")
}

func newAnnotateCommand(f *Factory) *cobra.Command {
	return newMetaEditCommand(f, "annotations", "annotate [--overwrite] (-f FILENAME | TYPE NAME) KEY_1=VAL_1 ... KEY_N=VAL_N [--resource-version=version]", "Update the annotations on a resource", "kubectl-annotate")
}

func newMetaEditCommand(f *Factory, field, use, short, manager string) *cobra.Command {
	o := &metaEdit{field: field}
	cmd := &cobra.Command{Use: use, Short: short,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(f, cmd, args) }}
	o.addFlags(cmd, "update the "+field)
	o.mutateFlags.add(cmd, manager, false)
	o.mutateFlags.addRecord(cmd)
	cmd.Flags().BoolVar(&o.overwrite, "overwrite", false, "If true, allow "+field+" to be overwritten, otherwise reject "+field+" updates that overwrite existing "+field+".")
	cmd.Flags().BoolVar(&o.list, "list", false, "If true, display the "+field+" for a given resource.")
	cmd.Flags().StringVar(&o.resourceVersion, "resource-version", "", "If non-empty, the update will only succeed if this is the current resource-version for the object. Only valid when specifying a single resource.")
	return cmd
}

// splitPairs separates resource arguments from KEY=VAL and KEY- arguments
// the way kubectl does: everything after the first pair must be a pair.
func splitPairs(args []string, kind string) (res []string, set map[string]string, remove []string, err error) {
	set = map[string]string{}
	found := false
	for _, a := range args {
		pair := (strings.Contains(a, "=") && a[0] != '=') || (strings.HasSuffix(a, "-") && a != "-")
		switch {
		case pair:
			found = true
			if k, v, ok := strings.Cut(a, "="); ok {
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					return nil, nil, nil, fmt.Errorf("invalid %s spec: %v", kind, a)
				}
				set[k] = v
			} else {
				remove = append(remove, strings.TrimSuffix(a, "-"))
			}
		case found:
			return nil, nil, nil, fmt.Errorf("all resources must be specified before %s changes: %s", kind, a)
		default:
			res = append(res, a)
		}
	}
	return res, set, remove, nil
}

func (o *metaEdit) run(f *Factory, cmd *cobra.Command, args []string) error {
	if err := o.check(); err != nil {
		return err
	}
	res, set, remove, err := splitPairs(args, strings.TrimSuffix(o.field, "s"))
	if err != nil {
		return err
	}
	if len(set) == 0 && len(remove) == 0 && !o.list {
		return usageError(cmd.CommandPath(), "at least one %s update is required", strings.TrimSuffix(o.field, "s"))
	}
	objs, errs, err := o.selectObjects(f, cmd, res)
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	for _, s := range objs {
		if o.list {
			m := o.current(s)
			for _, k := range sortedMapKeys(m) {
				fmt.Fprintf(f.IO.Out, "%s=%s\n", k, m[k])
			}
			continue
		}
		before, _ := json.Marshal(s.obj.Object)
		changed := s.obj.DeepCopy()
		m := o.current(selected{obj: changed})
		if err := o.conflicts(m, set); err != nil {
			return err
		}
		added, removed := 0, 0
		for k, v := range set {
			if old, ok := m[k]; !ok || old != v {
				added++
			}
			m[k] = v
		}
		for _, k := range remove {
			if _, ok := m[k]; ok {
				removed++
			} else {
				fmt.Fprintf(f.IO.Out, "%s %q not found.\n", strings.TrimSuffix(o.field, "s"), k)
			}
			delete(m, k)
		}
		if o.field == "labels" {
			changed.SetLabels(m)
		} else {
			changed.SetAnnotations(m)
		}
		if o.record {
			f.recordCommand(changed)
		}
		if o.resourceVersion != "" {
			changed.SetResourceVersion(o.resourceVersion)
		}
		after, _ := json.Marshal(changed.Object)
		word := o.operation(added, removed)
		out := changed
		if !o.client() {
			patch, err := jsonpatch.CreateMergePatch(before, after)
			if err != nil {
				return err
			}
			out, err = s.client(dyn).Patch(cmd.Context(), s.obj.GetName(), types.MergePatchType, patch, o.patchOptions())
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := o.print(f.IO.Out, out, word); err != nil {
			return err
		}
	}
	return utilerrors.NewAggregate(errs)
}

func (o *metaEdit) current(s selected) map[string]string {
	var m map[string]string
	if o.field == "labels" {
		m = s.obj.GetLabels()
	} else {
		m = s.obj.GetAnnotations()
	}
	if m == nil {
		m = map[string]string{}
	}
	return m
}

func (o *metaEdit) conflicts(m, set map[string]string) error {
	if o.overwrite {
		return nil
	}
	keys := sortedMapKeys(set)
	var msgs []string
	for _, k := range keys {
		if old, ok := m[k]; ok && old != set[k] {
			msgs = append(msgs, fmt.Sprintf("'%s' already has a value (%s)", k, old))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	if o.field == "labels" {
		return fmt.Errorf("%s, and --overwrite is false", strings.Join(msgs, ", "))
	}
	return fmt.Errorf("--overwrite is false but found the following declared annotation(s): %s", strings.Join(msgs, "; "))
}

// operation is kubectl 1.36+'s word: labeled, unlabeled, modified or not
// labeled; annotate always says annotated.
func (o *metaEdit) operation(added, removed int) string {
	if o.field == "annotations" {
		return "annotated"
	}
	switch {
	case added > 0 && removed > 0:
		return "modified"
	case added > 0:
		return "labeled"
	case removed > 0:
		return "unlabeled"
	}
	return "not labeled"
}

func sortedMapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
