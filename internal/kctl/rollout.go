package kctl

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

func newRolloutCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "rollout SUBCOMMAND", Short: "Manage the rollout of a resource",
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	cmd.AddCommand(newRolloutStatusCommand(f), newRolloutHistoryCommand(f), newRolloutUndoCommand(f),
		rolloutPatchCommand(f, "restart", "Restart a resource", "restarted"),
		rolloutPatchCommand(f, "pause", "Mark the provided resource as paused", "paused"),
		rolloutPatchCommand(f, "resume", "Resume a paused resource", "resumed"))
	return cmd
}

// rolloutPatchCommand is restart, pause or resume: one strategic merge
// patch on the workload.
func rolloutPatchCommand(f *Factory, verb, short, word string) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	cmd := &cobra.Command{
		Use:   verb + " RESOURCE",
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			for _, s := range objs {
				var patch string
				paused, _, _ := unstructured.NestedBool(s.obj.Object, "spec", "paused")
				switch verb {
				case "restart":
					if paused {
						errs = append(errs, fmt.Errorf("can't restart paused deployment (run rollout resume first)"))
						continue
					}
					patch = fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"%s"}}}}}`, time.Now().Format(time.RFC3339))
				case "pause", "resume":
					if s.obj.GetKind() != "Deployment" {
						errs = append(errs, fmt.Errorf("%s/%s is not supported", kindName(s.obj.GroupVersionKind()), s.obj.GetName()))
						continue
					}
					if paused == (verb == "pause") {
						why := "is already paused"
						if verb == "resume" {
							why = "is not paused"
						}
						errs = append(errs, fmt.Errorf("error: %s %q %s", resourceString(s), s.obj.GetName(), why))
						continue
					}
					patch = fmt.Sprintf(`{"spec":{"paused":%t}}`, verb == "pause")
				}
				out, err := s.client(dyn).Patch(cmd.Context(), s.obj.GetName(), types.StrategicMergePatchType, []byte(patch), mf.patchOptions())
				if err != nil {
					errs = append(errs, fmt.Errorf("failed to patch: %v", err))
					continue
				}
				mf.print(f.IO.Out, out, word)
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	sel.addFlags(cmd, verb)
	mf.add(cmd, "kubectl-rollout", false)
	return cmd
}

var gvrReplicaSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}

// ownedReplicaSets lists the ReplicaSets a Deployment controls.
func ownedReplicaSets(ctx context.Context, f *Factory, dep *appsv1.Deployment) ([]appsv1.ReplicaSet, error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return nil, err
	}
	l, err := dyn.Resource(gvrReplicaSets).Namespace(dep.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var out []appsv1.ReplicaSet
	for i := range l.Items {
		var rs appsv1.ReplicaSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[i].Object, &rs); err != nil {
			return nil, err
		}
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == dep.UID {
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool { return revisionOf(&out[i]) < revisionOf(&out[j]) })
	return out, nil
}

func revisionOf(o metav1.Object) int64 {
	n, _ := strconv.ParseInt(o.GetAnnotations()["deployment.kubernetes.io/revision"], 10, 64)
	return n
}

func newRolloutHistoryCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var revision int64
	cmd := &cobra.Command{
		Use:   "history (TYPE NAME | TYPE/NAME) [flags]",
		Short: "View rollout history",
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			for _, s := range objs {
				if s.obj.GetKind() != "Deployment" {
					errs = append(errs, fmt.Errorf("no history viewer has been implemented for %q", s.obj.GroupVersionKind().GroupKind()))
					continue
				}
				var dep appsv1.Deployment
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(s.obj.Object, &dep); err != nil {
					return err
				}
				rss, err := ownedReplicaSets(cmd.Context(), f, &dep)
				if err != nil {
					return err
				}
				text, err := historyText(rss, revision)
				if err != nil {
					return err
				}
				head := kindName(s.obj.GroupVersionKind()) + "/" + s.obj.GetName() + " "
				if revision > 0 {
					head = kindName(s.obj.GroupVersionKind()) + "/" + s.obj.GetName() + " with revision #" + strconv.FormatInt(revision, 10)
				}
				fmt.Fprintf(f.IO.Out, "%s\n%s\n", head, text)
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	sel.addFlags(cmd, "get history")
	cmd.Flags().Int64Var(&revision, "revision", 0, "See the details, including podTemplate of the revision specified")
	return cmd
}

// historyText is the REVISION/CHANGE-CAUSE table (describe tab writer).
func historyText(rss []appsv1.ReplicaSet, revision int64) (string, error) {
	if len(rss) == 0 {
		return "No rollout history found.", nil
	}
	if revision > 0 {
		for i := range rss {
			if revisionOf(&rss[i]) == revision {
				return podTemplateText(&rss[i].Spec.Template), nil
			}
		}
		return "", fmt.Errorf("unable to find the specified revision")
	}
	var b []byte
	b = append(b, "REVISION  CHANGE-CAUSE\n"...)
	rows := [][2]string{}
	for i := range rss {
		cause := rss[i].Annotations[changeCauseAnnotation]
		if cause == "" {
			cause = "<none>"
		}
		rows = append(rows, [2]string{strconv.FormatInt(revisionOf(&rss[i]), 10), cause})
	}
	width := len("REVISION")
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	b = []byte(fmt.Sprintf("%-*s  %s\n", width, "REVISION", "CHANGE-CAUSE"))
	for _, r := range rows {
		b = append(b, fmt.Sprintf("%-*s  %s\n", width, r[0], r[1])...)
	}
	return string(b), nil
}

func newRolloutUndoCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var toRevision int64
	cmd := &cobra.Command{
		Use:   "undo (TYPE NAME | TYPE/NAME) [flags]",
		Short: "Undo a previous rollout",
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			for _, s := range objs {
				msg, err := undoDeployment(f, cmd, &mf, s, toRevision)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				mf.print(f.IO.Out, s.obj, msg)
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	sel.addFlags(cmd, "undo")
	mf.add(cmd, "", false)
	cmd.Flags().Int64Var(&toRevision, "to-revision", 0, "The revision to rollback to. Default to 0 (last revision).")
	return cmd
}

func undoDeployment(f *Factory, cmd *cobra.Command, mf *mutateFlags, s selected, to int64) (string, error) {
	if s.obj.GetKind() != "Deployment" {
		return "", fmt.Errorf("no rollbacker has been implemented for %q", s.obj.GroupVersionKind().GroupKind())
	}
	var dep appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(s.obj.Object, &dep); err != nil {
		return "", err
	}
	if _, ok := dep.Annotations[lastAppliedAnnotation]; ok {
		fmt.Fprintf(f.IO.ErrOut, "Warning: resource deployments/%s was previously managed with 'kubectl apply'. Rolling back will not update the kubectl.kubernetes.io/last-applied-configuration annotation, which may cause unexpected behavior on future 'kubectl apply' operations. Consider using 'kubectl apply' with your previous configuration file instead.\n", dep.Name)
	}
	if dep.Spec.Paused {
		return "", fmt.Errorf("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again")
	}
	rss, err := ownedReplicaSets(cmd.Context(), f, &dep)
	if err != nil {
		return "", err
	}
	cur := revisionOf(&dep)
	var target *appsv1.ReplicaSet
	for i := len(rss) - 1; i >= 0; i-- {
		r := revisionOf(&rss[i])
		if (to == 0 && r < cur) || (to != 0 && r == to) {
			target = &rss[i]
			break
		}
	}
	if target == nil {
		if to == 0 {
			return "", fmt.Errorf("no rollout history found for deployment %q", dep.Name)
		}
		return "", fmt.Errorf("unable to find specified revision %d in history", to)
	}
	tmpl := target.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if equalTemplates(&dep.Spec.Template, tmpl) {
		return fmt.Sprintf("skipped rollback (current template already matches revision %d)", revisionOf(target)), nil
	}
	if mf.client() {
		return "rolled back", nil
	}
	tu, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tmpl)
	if err != nil {
		return "", err
	}
	patch, err := jsonMarshal([]map[string]any{{"op": "replace", "path": "/spec/template", "value": tu}})
	if err != nil {
		return "", err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return "", err
	}
	if _, err := s.client(dyn).Patch(cmd.Context(), dep.Name, types.JSONPatchType, patch, mf.patchOptions()); err != nil {
		return "", err
	}
	return "rolled back", nil
}

func equalTemplates(a, b any) bool {
	x, _ := jsonMarshal(a)
	y, _ := jsonMarshal(b)
	return string(x) == string(y)
}

// resourceString is `resource[.group]`, the plural form kubectl uses in
// some errors.
func resourceString(s selected) string {
	r := s.mapping.Resource.Resource
	if s.mapping.Resource.Group != "" {
		r += "." + s.mapping.Resource.Group
	}
	return r
}
