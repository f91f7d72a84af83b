package kctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// newCordonCommand is cordon (unschedulable=true) or uncordon.
func newCordonCommand(f *Factory, cordon bool) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	verb := "cordon"
	if !cordon {
		verb = "uncordon"
	}
	cmd := &cobra.Command{
		Use:   verb + " NODE",
		Short: "Mark node as " + map[bool]string{true: "unschedulable", false: "schedulable"}[cordon],
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && sel.selector == "" {
				return usageError(cmd.CommandPath(), "USAGE: %s NODE [flags]", verb)
			}
			if err := mf.check(); err != nil {
				return err
			}
			objs, errs, err := sel.selectObjects(f, cmd, nodeArgs(args))
			if err != nil {
				return err
			}
			for _, s := range objs {
				if err := setUnschedulable(f, cmd, &mf, s, cordon); err != nil {
					errs = append(errs, err)
				}
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	cmd.Flags().StringVarP(&sel.selector, "selector", "l", "", "Selector (label query) to filter on")
	mf.add(cmd, "", false)
	return cmd
}

// nodeArgs turns `NAME...` into `nodes NAME...`.
func nodeArgs(args []string) []string {
	if len(args) == 0 {
		return []string{"nodes"}
	}
	return append([]string{"nodes"}, args...)
}

func setUnschedulable(f *Factory, cmd *cobra.Command, mf *mutateFlags, s selected, on bool) error {
	word := map[bool]string{true: "cordoned", false: "uncordoned"}[on]
	cur, _, _ := unstructured.NestedBool(s.obj.Object, "spec", "unschedulable")
	if cur == on {
		return mf.print(f.IO.Out, s.obj, "already "+word)
	}
	if !mf.client() {
		dyn, err := f.Dynamic()
		if err != nil {
			return err
		}
		patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
		if !on {
			patch = `{"spec":{"unschedulable":null}}`
		}
		if _, err := s.client(dyn).Patch(cmd.Context(), s.obj.GetName(), types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{DryRun: mf.dryRunList()}); err != nil {
			return err
		}
	}
	return mf.print(f.IO.Out, s.obj, word)
}

func newTaintCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "taint NODE NAME KEY_1=VAL_1:TAINT_EFFECT_1 ... KEY_N=VAL_N:TAINT_EFFECT_N",
		Short: "Update the taints on one or more nodes",
		RunE: func(cmd *cobra.Command, args []string) error {
			res, specs := splitTaintArgs(args)
			if len(specs) == 0 {
				return usageError(cmd.CommandPath(), "at least one taint update is required")
			}
			add, remove, err := parseTaints(specs)
			if err != nil {
				return usageError(cmd.CommandPath(), "%s", err.Error())
			}
			objs, errs, err := sel.selectObjects(f, cmd, res)
			if err != nil {
				return err
			}
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			for _, s := range objs {
				var node corev1.Node
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(s.obj.Object, &node); err != nil {
					return err
				}
				taints, word, err := reorganizeTaints(&node, overwrite, add, remove)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out := s.obj
				if !mf.client() {
					body, _ := jsonMarshal(map[string]any{"spec": map[string]any{"taints": taints}})
					out, err = s.client(dyn).Patch(cmd.Context(), s.obj.GetName(), types.StrategicMergePatchType, body, mf.patchOptions())
					if err != nil {
						errs = append(errs, err)
						continue
					}
				}
				mf.print(f.IO.Out, out, word)
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	cmd.Flags().StringVarP(&sel.selector, "selector", "l", "", "Selector (label query) to filter on")
	cmd.Flags().BoolVar(&sel.all, "all", false, "Select all nodes in the cluster")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "If true, allow taints to be overwritten, otherwise reject taint updates that overwrite existing taints.")
	mf.add(cmd, "kubectl-taint", false)
	return cmd
}

// splitTaintArgs: the first args name the nodes ("nodes NAME" or
// "node/NAME"), the rest are taint specs.
func splitTaintArgs(args []string) (res, specs []string) {
	for i, a := range args {
		if strings.Contains(a, "=") || strings.Contains(a, ":") || strings.HasSuffix(a, "-") {
			return args[:i], args[i:]
		}
	}
	return args, nil
}

func parseTaints(specs []string) (add []corev1.Taint, remove []corev1.Taint, err error) {
	for _, s := range specs {
		if strings.HasSuffix(s, "-") {
			body := strings.TrimSuffix(s, "-")
			k, eff, _ := strings.Cut(body, ":")
			remove = append(remove, corev1.Taint{Key: k, Effect: corev1.TaintEffect(eff)})
			continue
		}
		kv, eff, ok := strings.Cut(s, ":")
		if !ok || eff == "" {
			return nil, nil, fmt.Errorf("invalid taint spec: %v", s)
		}
		switch corev1.TaintEffect(eff) {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, nil, fmt.Errorf("invalid taint effect: %v, unsupported taint effect", eff)
		}
		k, v, _ := strings.Cut(kv, "=")
		add = append(add, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(eff)})
	}
	return add, remove, nil
}

// reorganizeTaints applies adds and removals and names the operation:
// tainted, untainted or modified.
func reorganizeTaints(node *corev1.Node, overwrite bool, add, remove []corev1.Taint) ([]corev1.Taint, string, error) {
	var out []corev1.Taint
	modified := false
	for _, old := range node.Spec.Taints {
		replaced := false
		for _, n := range add {
			if n.Key == old.Key && n.Effect == old.Effect {
				if !overwrite {
					return nil, "", fmt.Errorf("node %s already has %s taint(s) with same effect(s) and --overwrite is false", node.Name, n.Key)
				}
				replaced = true
			}
		}
		removed := false
		for _, r := range remove {
			if r.Key == old.Key && (r.Effect == "" || r.Effect == old.Effect) {
				removed = true
			}
		}
		if replaced {
			modified = true
		}
		if !replaced && !removed {
			out = append(out, old)
		}
	}
	for _, r := range remove {
		found := false
		for _, old := range node.Spec.Taints {
			if r.Key == old.Key && (r.Effect == "" || r.Effect == old.Effect) {
				found = true
			}
		}
		if !found {
			return nil, "", fmt.Errorf("taint %q not found", r.ToString())
		}
	}
	out = append(out, add...)
	switch {
	case len(add) > 0 && len(remove) > 0 || modified:
		return out, "modified", nil
	case len(remove) > 0:
		return out, "untainted", nil
	}
	return out, "tainted", nil
}
