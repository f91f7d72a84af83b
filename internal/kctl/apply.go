package kctl

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

type applyOptions struct {
	fileOptions
	mutateFlags
	serverSide, forceConflicts, prune, all, overwrite bool
	pruneAllowlist                                    []string
	selector                                          string
	// pruneTargets are the kinds --prune looks at, resolved before
	// anything is applied (a bad --prune-allowlist changes nothing).
	pruneTargets []*meta.RESTMapping
}

func newApplyCommand(f *Factory) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply (-f FILENAME | -k DIRECTORY)",
		Short: "Apply a configuration to a resource by file name or stdin",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.filenames) == 0 {
				return usageError(cmd.CommandPath(), "must specify one of -f and -k")
			}
			if o.serverSide && !flagChanged(cmd, "field-manager") {
				o.fieldManager = "kubectl"
			}
			return o.run(f, cmd)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&o.filenames, "filename", "f", nil, "The files that contain the configurations to apply.")
	fl.BoolVarP(&o.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively.")
	fl.BoolVar(&o.serverSide, "server-side", false, "If true, apply runs in the server instead of the client.")
	fl.BoolVar(&o.forceConflicts, "force-conflicts", false, "If true, server-side apply will force the changes against conflicts.")
	fl.StringArrayVar(&o.pruneAllowlist, "prune-allowlist", nil, "Overwrite the default allowlist with <group/version/kind> for --prune")
	fl.BoolVar(&o.prune, "prune", false, "Automatically delete resource objects, that do not appear in the configs and are created by either apply or create --save-config. Should be used with either -l or --all.")
	fl.BoolVar(&o.all, "all", false, "Select all resources in the namespace of the specified resource types.")
	fl.StringVarP(&o.selector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.")
	fl.BoolVar(&o.overwrite, "overwrite", true, "Automatically resolve conflicts between the modified and live configuration by using values from the modified configuration")
	fl.BoolVar(&o.convert, "convert", false, "kctl only: rewrite manifests written for removed apiVersions (extensions/v1beta1, ...) before applying them.")
	o.mutateFlags.add(cmd, "kubectl-client-side-apply", true)
	o.mutateFlags.addRecord(cmd)
	cmd.AddCommand(newApplyLastAppliedCommands(f)...)
	return cmd
}

func (o *applyOptions) run(f *Factory, cmd *cobra.Command) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.prune && o.selector == "" && !o.all {
		return fmt.Errorf("all resources selected for prune without explicitly passing --all. To prune all resources, pass the --all flag. If you did not mean to prune all resources, specify a label selector")
	}
	if o.prune {
		r, err := f.resolver()
		if err != nil {
			return err
		}
		if o.pruneTargets, err = o.pruneMappings(f, r); err != nil {
			return err
		}
	}
	ns, explicit, err := f.Namespace()
	if err != nil {
		return err
	}
	ms, err := o.fileOptions.read(f.IO.In)
	if err != nil {
		return err
	}
	if o.convert {
		convertManifests(ms)
	}
	r, err := f.resolver()
	if err != nil {
		return err
	}
	var errs []error
	var applied []appliedObject
	for _, m := range ms {
		if o.selector != "" && !matchesSelector(m.obj, o.selector) {
			continue
		}
		mapping, err := r.mappingForObject(m.obj, m.source)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ons, err := objectNamespace(m.obj, ns, explicit)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			m.obj.SetNamespace(ons)
		}
		if err := o.applyOne(f, cmd, mapping, m); err != nil {
			errs = append(errs, err)
			continue
		}
		applied = append(applied, appliedObject{mapping: mapping, ns: m.obj.GetNamespace(), name: m.obj.GetName()})
	}
	if o.prune && len(errs) == 0 {
		errs = append(errs, o.runPrune(f, cmd, applied, ns)...)
	}
	return utilerrors.NewAggregate(errs)
}

func (o *applyOptions) applyOne(f *Factory, cmd *cobra.Command, mapping *meta.RESTMapping, m manifest) error {
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	rc := resourceClient(dyn, mapping, m.obj.GetNamespace())
	if o.record {
		// Before the last-applied annotation is made, so it holds the
		// change cause too, as kubectl's does.
		f.recordCommand(m.obj)
	}
	if o.serverSide {
		return o.serverSideApply(f, cmd, rc, m)
	}
	// The patch target carries the new last-applied annotation itself.
	withAnn := m.obj.DeepCopy()
	if err := setLastApplied(withAnn); err != nil {
		return err
	}
	modified, err := withAnn.MarshalJSON()
	if err != nil {
		return err
	}
	current, err := rc.Get(cmd.Context(), m.obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if err := setLastApplied(m.obj); err != nil {
			return err
		}
		if o.client() {
			return o.print(f.IO.Out, m.obj, "created")
		}
		out, err := rc.Create(cmd.Context(), m.obj, o.createOptions())
		if err != nil {
			return withSource("creating", m.source, err)
		}
		return o.print(f.IO.Out, out, "created")
	}
	if err != nil {
		return withSource("retrieving current configuration of:\nResource: "+fmt.Sprintf("%q", mapping.Resource.String())+", GroupVersionKind: "+fmt.Sprintf("%q", mapping.GroupVersionKind.String())+"\nName: "+fmt.Sprintf("%q", m.obj.GetName())+", Namespace: "+fmt.Sprintf("%q", m.obj.GetNamespace())+"\nfrom server for", m.source, err)
	}
	original := []byte(current.GetAnnotations()[lastAppliedAnnotation])
	if len(original) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "Warning: resource %s/%s is missing the %s annotation which is required by kubectl apply. kubectl apply should only be used on resources created declaratively by either kubectl create --save-config or kubectl apply. The missing annotation will be patched automatically.\n",
			mapping.Resource.Resource, m.obj.GetName(), lastAppliedAnnotation)
	}
	currentJSON, err := current.MarshalJSON()
	if err != nil {
		return err
	}
	patch, ptype, err := threeWayPatch(newScheme(), m.obj, original, modified, currentJSON, o.overwrite)
	if err != nil {
		return fmt.Errorf("creating patch with:\noriginal:\n%s\nmodified:\n%s\ncurrent:\n%s\nfor: %q: %w", original, modified, currentJSON, m.source, err)
	}
	if string(patch) == "{}" {
		return o.print(f.IO.Out, current, "unchanged")
	}
	if o.client() {
		merged, err := applyPatchLocally(newScheme(), current, currentJSON, patch, ptype)
		if err != nil {
			return err
		}
		return o.print(f.IO.Out, merged, "configured")
	}
	opts := o.patchOptions()
	opts.FieldValidation = o.validation()
	out, err := rc.Patch(cmd.Context(), m.obj.GetName(), ptype, patch, opts)
	if err != nil {
		return withSource("patching", m.source, err)
	}
	return o.print(f.IO.Out, out, "configured")
}

// threeWayPatch computes kubectl's client-side apply patch: strategic merge
// for types kctl knows (patch strategies from the Go struct tags), JSON
// merge patch otherwise.
func threeWayPatch(s *runtime.Scheme, obj *unstructured.Unstructured, original, modified, current []byte, overwrite bool) ([]byte, types.PatchType, error) {
	preconditions := []mergepatch.PreconditionFunc{
		mergepatch.RequireKeyUnchanged("apiVersion"), mergepatch.RequireKeyUnchanged("kind"),
		mergepatch.RequireMetadataKeyUnchanged("name"),
	}
	if typed := typedFor(s, obj.GroupVersionKind()); typed != nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
		if err != nil {
			return nil, "", err
		}
		p, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, overwrite, preconditions...)
		return p, types.StrategicMergePatchType, err
	}
	p, err := jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, current, preconditions...)
	return p, types.MergePatchType, err
}

// lastAppliedJSON is what kubectl stores in the last-applied annotation:
// the object as given, with an empty annotation map when it had none,
// without the annotation itself, as compact JSON plus a newline.
func lastAppliedJSON(u *unstructured.Unstructured) ([]byte, error) {
	c := u.DeepCopy()
	ann := c.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	delete(ann, lastAppliedAnnotation)
	unstructured.SetNestedStringMap(c.Object, ann, "metadata", "annotations")
	b, err := json.Marshal(c.Object)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// setLastApplied stores the last-applied annotation on u.
func setLastApplied(u *unstructured.Unstructured) error {
	js, err := lastAppliedJSON(u)
	if err != nil {
		return err
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[lastAppliedAnnotation] = string(js)
	u.SetAnnotations(ann)
	return nil
}

// applyPatchLocally is what a client dry run shows: the live object with
// the computed patch applied.
func applyPatchLocally(s *runtime.Scheme, current *unstructured.Unstructured, currentJSON, patch []byte, pt types.PatchType) (*unstructured.Unstructured, error) {
	var out []byte
	var err error
	if pt == types.StrategicMergePatchType {
		out, err = strategicpatch.StrategicMergePatch(currentJSON, patch, typedFor(s, current.GroupVersionKind()))
	} else {
		out, err = jsonpatch.MergePatch(currentJSON, patch)
	}
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	return u, u.UnmarshalJSON(out)
}
