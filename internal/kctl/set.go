package kctl

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// podSpecPath is where a kind keeps its pod spec.
func podSpecPath(kind string) []string {
	switch kind {
	case "Pod":
		return []string{"spec"}
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	return []string{"spec", "template", "spec"}
}

// containerEdit changes the containers of one object; it returns false
// when nothing changed.
type containerEdit func(c map[string]any) (bool, error)

// updateContainers applies edit to the named containers (all with "*" or
// "") and patches the object with kubectl's strategic merge patch.
func updateContainers(f *Factory, cmd *cobra.Command, mf *mutateFlags, s selected, names map[string]bool, edit containerEdit, word string) (bool, error) {
	orig := s.obj.DeepCopy()
	obj := s.obj.DeepCopy()
	base := podSpecPath(obj.GetKind())
	changed := false
	found := map[string]bool{}
	for _, field := range []string{"initContainers", "containers"} {
		cs, ok, _ := unstructured.NestedSlice(obj.Object, append(base, field)...)
		if !ok {
			continue
		}
		for i, c := range cs {
			m := c.(map[string]any)
			name, _ := m["name"].(string)
			if names != nil && !names["*"] && !names[name] {
				continue
			}
			found[name] = true
			ok, err := edit(m)
			if err != nil {
				return false, err
			}
			changed = changed || ok
			cs[i] = m
		}
		unstructured.SetNestedSlice(obj.Object, cs, append(base, field)...)
	}
	for n := range names {
		if n != "*" && !found[n] {
			return false, fmt.Errorf("unable to find container named %q", n)
		}
	}
	if mf.record && obj.GetAnnotations()[changeCauseAnnotation] != f.changeCause {
		f.recordCommand(obj)
		changed = true
	}
	if !changed {
		return false, nil
	}
	if !mf.client() {
		dyn, err := f.Dynamic()
		if err != nil {
			return false, err
		}
		a, _ := json.Marshal(orig.Object)
		b, _ := json.Marshal(obj.Object)
		pt := types.MergePatchType
		var patch []byte
		if typed := typedFor(newScheme(), obj.GroupVersionKind()); typed != nil {
			pt = types.StrategicMergePatchType
			patch, err = strategicpatch.CreateTwoWayMergePatch(a, b, typed)
		} else {
			patch, err = jsonpatch.CreateMergePatch(a, b)
		}
		if err != nil {
			return false, err
		}
		out, err := s.client(dyn).Patch(cmd.Context(), obj.GetName(), pt, patch, mf.patchOptions())
		if err != nil {
			return false, err
		}
		obj = out
	}
	return true, mf.print(f.IO.Out, obj, word)
}

func newSetCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "set SUBCOMMAND", Short: "Set specific features on objects",
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	cmd.AddCommand(newSetImageCommand(f), newSetEnvCommand(f), newSetResourcesCommand(f))
	return cmd
}

func newSetImageCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	cmd := &cobra.Command{
		Use:   "image (-f FILENAME | TYPE NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ... CONTAINER_NAME_N=CONTAINER_IMAGE_N",
		Short: "Update the image of a pod template",
		RunE: func(cmd *cobra.Command, args []string) error {
			res, images, _, err := splitPairs(args, "image")
			if err != nil {
				return err
			}
			if len(images) == 0 {
				return usageError(cmd.CommandPath(), "at least one image update is required")
			}
			objs, errs, err := sel.selectObjects(f, cmd, res)
			if err != nil {
				return err
			}
			for _, s := range objs {
				names := map[string]bool{}
				for n := range images {
					names[n] = true
				}
				_, err := updateContainers(f, cmd, &mf, s, names, func(c map[string]any) (bool, error) {
					img, ok := images[c["name"].(string)]
					if !ok {
						img = images["*"]
					}
					if c["image"] == img {
						return false, nil
					}
					c["image"] = img
					return true, nil
				}, "image updated")
				if err != nil {
					errs = append(errs, err)
				}
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	sel.addFlags(cmd, "set the image")
	mf.add(cmd, "kubectl-set", false)
	mf.addRecord(cmd)
	return cmd
}

func newSetResourcesCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var limits, requests, containers string
	cmd := &cobra.Command{
		Use:   "resources (-f FILENAME | TYPE NAME)  ([--limits=LIMITS & --requests=REQUESTS]",
		Short: "Update resource requests/limits on objects with pod templates",
		RunE: func(cmd *cobra.Command, args []string) error {
			if limits == "" && requests == "" {
				return fmt.Errorf("you must specify an update to requests or limits (in the form of --requests/--limits)")
			}
			lim, err := parseResourceList(limits)
			if err != nil {
				return err
			}
			req, err := parseResourceList(requests)
			if err != nil {
				return err
			}
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			var names map[string]bool
			if containers != "" && containers != "*" {
				names = map[string]bool{containers: true}
			}
			for _, s := range objs {
				_, err := updateContainers(f, cmd, &mf, s, names, func(c map[string]any) (bool, error) {
					r, _ := c["resources"].(map[string]any)
					if r == nil {
						r = map[string]any{}
					}
					before, _ := json.Marshal(r)
					for k, part := range map[string]map[string]any{"limits": lim, "requests": req} {
						if len(part) == 0 {
							continue
						}
						cur, _ := r[k].(map[string]any)
						if cur == nil {
							cur = map[string]any{}
						}
						for n, q := range part {
							cur[n] = q
						}
						r[k] = cur
					}
					c["resources"] = r
					after, _ := json.Marshal(r)
					return string(before) != string(after), nil
				}, "resource requirements updated")
				if err != nil {
					errs = append(errs, err)
				}
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	sel.addFlags(cmd, "update the resources")
	cmd.Flags().StringVar(&limits, "limits", "", "The resource requirement requests for this container.  For example, 'cpu=100m,memory=256Mi'.")
	cmd.Flags().StringVar(&requests, "requests", "", "The resource requirement requests for this container.  For example, 'cpu=100m,memory=256Mi'.")
	cmd.Flags().StringVarP(&containers, "containers", "c", "*", "The names of containers in the selected pod templates to change, all containers are selected by default - may use wildcards")
	mf.add(cmd, "kubectl-set", false)
	mf.addRecord(cmd)
	return cmd
}

func parseResourceList(s string) (map[string]any, error) {
	out := map[string]any{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("invalid argument syntax %v, expected <resource>=<value>", kv)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, err
		}
		out[k] = q.String()
	}
	return out, nil
}
