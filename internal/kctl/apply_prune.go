package kctl

import (
	"encoding/json"
	"fmt"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

type appliedObject struct {
	mapping  *meta.RESTMapping
	ns, name string
}

// serverSideApply sends the object as an apply patch (JSON, as kubectl
// does) with field manager "kubectl".
func (o *applyOptions) serverSideApply(f *Factory, cmd *cobra.Command, rc dynamic.ResourceInterface, m manifest) error {
	body, err := json.Marshal(m.obj.Object)
	if err != nil {
		return err
	}
	if o.client() {
		return o.print(f.IO.Out, m.obj, "serverside-applied")
	}
	force := o.forceConflicts
	out, err := rc.Patch(cmd.Context(), m.obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		DryRun: o.dryRunList(), FieldManager: o.fieldManager, Force: &force, FieldValidation: o.validation()})
	if err != nil {
		return withSource("patching", m.source, err)
	}
	return o.print(f.IO.Out, out, "serverside-applied")
}

// pruneKinds is kubectl's default allow-list for --prune.
var pruneKinds = []string{"configmaps", "endpoints", "namespaces", "persistentvolumeclaims", "persistentvolumes",
	"pods", "replicationcontrollers", "secrets", "services", "jobs.batch", "cronjobs.batch", "ingresses.networking.k8s.io",
	"daemonsets.apps", "deployments.apps", "replicasets.apps", "statefulsets.apps"}

// runPrune deletes objects of the allow-listed kinds that carry the
// last-applied annotation, match the selector and were not just applied.
func (o *applyOptions) runPrune(f *Factory, cmd *cobra.Command, applied []appliedObject, ns string) []error {
	dyn, err := f.Dynamic()
	if err != nil {
		return []error{err}
	}
	keep := map[string]bool{}
	namespaces := map[string]bool{}
	for _, a := range applied {
		keep[a.mapping.Resource.String()+"/"+a.ns+"/"+a.name] = true
		if a.ns != "" {
			namespaces[a.ns] = true
		}
	}
	if len(namespaces) == 0 {
		namespaces[ns] = true
	}
	var errs []error
	for _, mapping := range o.pruneTargets {
		scopes := []string{""}
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			scopes = sortedSet(namespaces)
		}
		for _, pns := range scopes {
			list, err := resourceClient(dyn, mapping, pns).List(cmd.Context(), metav1.ListOptions{LabelSelector: o.selector})
			if err != nil {
				continue
			}
			for i := range list.Items {
				it := &list.Items[i]
				if _, ok := it.GetAnnotations()[lastAppliedAnnotation]; !ok || keep[mapping.Resource.String()+"/"+it.GetNamespace()+"/"+it.GetName()] {
					continue
				}
				if err := o.pruneOne(f, cmd, resourceClient(dyn, mapping, pns), it); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errs
}

// pruneMappings are the kinds --prune looks at: --prune-allowlist
// (group/version/kind, "core" for the core group) or kubectl's default list.
func (o *applyOptions) pruneMappings(f *Factory, r *resolver) ([]*meta.RESTMapping, error) {
	var out []*meta.RESTMapping
	if len(o.pruneAllowlist) == 0 {
		// kubectl logs this through klog whenever the default list is used.
		fmt.Fprintf(f.IO.ErrOut, "W%s %7d prune.go:71] Deprecated: kubectl apply will no longer prune non-namespaced resources by default when used with the --namespace flag in a future release. To preserve the current behaviour, list the resources you want to target explicitly in the --prune-allowlist flag.\n",
			time.Now().Format("0102 15:04:05.000000"), os.Getpid())
		for _, k := range pruneKinds {
			if m, err := r.mapping(k); err == nil {
				out = append(out, m)
			}
		}
		return out, nil
	}
	mapper, err := f.Mapper()
	if err != nil {
		return nil, err
	}
	for _, gvk := range o.pruneAllowlist {
		parts := strings.Split(gvk, "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("invalid GroupVersionKind format: %v, please follow <group/version/kind>", gvk)
		}
		if parts[0] == "core" {
			parts[0] = ""
		}
		m, err := mapper.RESTMapping(schema.GroupKind{Group: parts[0], Kind: parts[2]}, parts[1])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (o *applyOptions) pruneOne(f *Factory, cmd *cobra.Command, rc dynamic.ResourceInterface, it *unstructured.Unstructured) error {
	if !o.client() {
		policy := metav1.DeletePropagationBackground
		if err := rc.Delete(cmd.Context(), it.GetName(), metav1.DeleteOptions{DryRun: o.dryRunList(), PropagationPolicy: &policy}); err != nil {
			return err
		}
	}
	if o.output == "name" {
		_, err := fmt.Fprintf(f.IO.Out, "%s/%s\n", kindName(it.GroupVersionKind()), it.GetName())
		return err
	}
	_, err := fmt.Fprintf(f.IO.Out, "%s/%s pruned%s\n", kindName(it.GroupVersionKind()), it.GetName(), o.suffix())
	return err
}

func matchesSelector(u *unstructured.Unstructured, sel string) bool {
	s, err := labels.Parse(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(u.GetLabels()))
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

// dryRunApply is what `diff` compares against: the server's answer to a
// dry-run create or apply patch of the manifest.
func (o *applyOptions) dryRunApply(f *Factory, cmd *cobra.Command, rc dynamic.ResourceInterface, m manifest, cur *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if o.serverSide {
		body, err := json.Marshal(m.obj.Object)
		if err != nil {
			return nil, err
		}
		force := o.forceConflicts
		return rc.Patch(cmd.Context(), m.obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: o.fieldManager, Force: &force})
	}
	// Like kubectl diff, the would-be object does not get a new
	// last-applied annotation.
	if cur == nil {
		return rc.Create(cmd.Context(), m.obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: o.fieldManager})
	}
	// kubectl's modified configuration always has an annotations map
	// (empty when the manifest has none), so the merge deletes only the
	// annotations the last apply had, not the map with last-applied in it.
	obj := m.obj.DeepCopy()
	if obj.GetAnnotations() == nil {
		obj.SetAnnotations(map[string]string{})
	}
	modified, err := obj.MarshalJSON()
	if err != nil {
		return nil, err
	}
	currentJSON, err := cur.MarshalJSON()
	if err != nil {
		return nil, err
	}
	patch, pt, err := threeWayPatch(newScheme(), m.obj, []byte(cur.GetAnnotations()[lastAppliedAnnotation]), modified, currentJSON, true)
	if err != nil {
		return nil, err
	}
	if string(patch) == "{}" {
		return cur, nil
	}
	return rc.Patch(cmd.Context(), m.obj.GetName(), pt, patch, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: o.fieldManager})
}
