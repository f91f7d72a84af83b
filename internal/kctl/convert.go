package kctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cliprinters "k8s.io/cli-runtime/pkg/printers"
)

// oldAPI describes an apiVersion that study notes still use but today's
// servers no longer serve: where the kind lives now and what changed.
type oldAPI struct {
	from, to schema.GroupVersion
	kind     string
	removed  string // the release that removed it
	changes  []string
	// convert rewrites the object in place for `to`; nil when there is no
	// mechanical conversion (PodSecurityPolicy).
	convert func(u *unstructured.Unstructured)
}

var (
	gvExtensions   = schema.GroupVersion{Group: "extensions", Version: "v1beta1"}
	gvAppsBeta1    = schema.GroupVersion{Group: "apps", Version: "v1beta1"}
	gvAppsBeta2    = schema.GroupVersion{Group: "apps", Version: "v1beta2"}
	gvApps         = schema.GroupVersion{Group: "apps", Version: "v1"}
	gvNetBeta1     = schema.GroupVersion{Group: "networking.k8s.io", Version: "v1beta1"}
	gvNet          = schema.GroupVersion{Group: "networking.k8s.io", Version: "v1"}
	gvBatchBeta1   = schema.GroupVersion{Group: "batch", Version: "v1beta1"}
	gvBatch        = schema.GroupVersion{Group: "batch", Version: "v1"}
	gvPolicyBeta1  = schema.GroupVersion{Group: "policy", Version: "v1beta1"}
	gvPolicy       = schema.GroupVersion{Group: "policy", Version: "v1"}
	gvRBACBeta1    = schema.GroupVersion{Group: "rbac.authorization.k8s.io", Version: "v1beta1"}
	gvRBAC         = schema.GroupVersion{Group: "rbac.authorization.k8s.io", Version: "v1"}
	gvHPABeta1     = schema.GroupVersion{Group: "autoscaling", Version: "v2beta1"}
	gvHPABeta2     = schema.GroupVersion{Group: "autoscaling", Version: "v2beta2"}
	gvHPA          = schema.GroupVersion{Group: "autoscaling", Version: "v2"}
	workloadChange = []string{
		"spec.selector is now required and must match spec.template.metadata.labels (it used to be defaulted from them)",
		"spec.rollbackTo and spec.templateGeneration are gone (use `kubectl rollout undo` instead)",
		"defaults changed: revisionHistoryLimit 10, progressDeadlineSeconds 600, rolling update 25% max surge / 25% max unavailable",
	}
)

// oldAPIs is the table of removed apiVersions kctl recognises.
func oldAPIs() []oldAPI {
	var out []oldAPI
	for _, k := range []string{"Deployment", "DaemonSet", "ReplicaSet"} {
		out = append(out, oldAPI{from: gvExtensions, to: gvApps, kind: k, removed: "1.16", changes: workloadChange, convert: convertWorkload})
	}
	for _, gv := range []schema.GroupVersion{gvAppsBeta1, gvAppsBeta2} {
		for _, k := range []string{"Deployment", "DaemonSet", "ReplicaSet", "StatefulSet"} {
			out = append(out, oldAPI{from: gv, to: gvApps, kind: k, removed: "1.16", changes: workloadChange, convert: convertWorkload})
		}
	}
	ing := []string{
		"spec.backend is now spec.defaultBackend",
		"backend.serviceName/servicePort are now backend.service.name and backend.service.port.number (or .name)",
		"every path needs a pathType: Prefix, Exact or ImplementationSpecific",
		"the kubernetes.io/ingress.class annotation is replaced by spec.ingressClassName",
	}
	for _, gv := range []schema.GroupVersion{gvExtensions, gvNetBeta1} {
		out = append(out, oldAPI{from: gv, to: gvNet, kind: "Ingress", removed: "1.22", changes: ing, convert: convertIngress})
	}
	out = append(out,
		oldAPI{from: gvExtensions, to: gvNet, kind: "NetworkPolicy", removed: "1.16", convert: setVersion},
		oldAPI{from: gvBatchBeta1, to: gvBatch, kind: "CronJob", removed: "1.25", changes: []string{"no field changes: only the apiVersion"}, convert: setVersion},
		oldAPI{from: gvPolicyBeta1, to: gvPolicy, kind: "PodDisruptionBudget", removed: "1.25",
			changes: []string{"an empty spec.selector now selects every pod in the namespace (it selected none)"}, convert: setVersion},
		oldAPI{from: gvPolicyBeta1, kind: "PodSecurityPolicy", removed: "1.25", changes: []string{
			"PodSecurityPolicy was removed with no replacement object; use Pod Security Admission instead:",
			"label the namespace, e.g. `kubectl label ns NAME pod-security.kubernetes.io/enforce=restricted`",
			"levels are privileged, baseline and restricted; see `kctl explain pod.spec.securityContext`"}},
	)
	for _, k := range []string{"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"} {
		out = append(out, oldAPI{from: gvRBACBeta1, to: gvRBAC, kind: k, removed: "1.22", changes: []string{"no field changes: only the apiVersion"}, convert: setVersion})
	}
	for _, gv := range []schema.GroupVersion{gvHPABeta1, gvHPABeta2} {
		out = append(out, oldAPI{from: gv, to: gvHPA, kind: "HorizontalPodAutoscaler", removed: "1.26",
			changes: []string{"metrics[].resource.targetAverageUtilization is now metrics[].resource.target {type: Utilization, averageUtilization: N}"},
			convert: convertHPA})
	}
	return out
}

func lookupOldAPI(gvk schema.GroupVersionKind) *oldAPI {
	for _, o := range oldAPIs() {
		if o.from == gvk.GroupVersion() && o.kind == gvk.Kind {
			return &o
		}
	}
	return nil
}

// explain is the learner text added under kubectl's "no matches for kind"
// error.
func (o *oldAPI) explain(source string) string {
	var b strings.Builder
	if o.to.Empty() {
		fmt.Fprintf(&b, "kctl: %s %s was removed in Kubernetes %s.\n", o.from, o.kind, o.removed)
	} else {
		fmt.Fprintf(&b, "kctl: %s moved from %s to %s (%s was removed in Kubernetes %s). What changed:\n", o.kind, o.from, o.to, o.from, o.removed)
	}
	for _, c := range o.changes {
		fmt.Fprintf(&b, "  - %s\n", c)
	}
	if o.convert != nil {
		fmt.Fprintf(&b, "Add --convert to rewrite it on the fly, or run `kctl convert -f %s` to see the %s manifest.", source, o.to)
	}
	return strings.TrimRight(b.String(), "\n")
}

// convertManifests rewrites every object with a known old apiVersion.
func convertManifests(ms []manifest) {
	for _, m := range ms {
		if o := lookupOldAPI(m.obj.GroupVersionKind()); o != nil && o.convert != nil {
			m.obj.SetAPIVersion(o.to.String())
			o.convert(m.obj)
		}
	}
}

func setVersion(*unstructured.Unstructured) {}

func convertWorkload(u *unstructured.Unstructured) {
	unstructured.RemoveNestedField(u.Object, "spec", "rollbackTo")
	unstructured.RemoveNestedField(u.Object, "spec", "templateGeneration")
	if _, ok, _ := unstructured.NestedMap(u.Object, "spec", "selector"); ok {
		return
	}
	labels, _, _ := unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "labels")
	if len(labels) == 0 {
		return
	}
	sel := map[string]any{}
	for k, v := range labels {
		sel[k] = v
	}
	unstructured.SetNestedMap(u.Object, map[string]any{"matchLabels": sel}, "spec", "selector")
}

func convertIngress(u *unstructured.Unstructured) {
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	if spec == nil {
		return
	}
	if b, ok := spec["backend"].(map[string]any); ok {
		spec["defaultBackend"] = convertBackend(b)
		delete(spec, "backend")
	}
	rules, _ := spec["rules"].([]any)
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		paths, _, _ := unstructured.NestedSlice(rm, "http", "paths")
		for i, p := range paths {
			pm, _ := p.(map[string]any)
			if b, ok := pm["backend"].(map[string]any); ok {
				pm["backend"] = convertBackend(b)
			}
			if _, ok := pm["pathType"]; !ok {
				pm["pathType"] = "ImplementationSpecific"
			}
			paths[i] = pm
		}
		if len(paths) > 0 {
			unstructured.SetNestedSlice(rm, paths, "http", "paths")
		}
	}
	if class, ok := u.GetAnnotations()["kubernetes.io/ingress.class"]; ok && spec["ingressClassName"] == nil {
		spec["ingressClassName"] = class
	}
	u.Object["spec"] = spec
}

func convertBackend(b map[string]any) map[string]any {
	name, ok := b["serviceName"]
	if !ok {
		return b
	}
	port := map[string]any{}
	switch p := b["servicePort"].(type) {
	case string:
		port["name"] = p
	case nil:
	default:
		port["number"] = p
	}
	return map[string]any{"service": map[string]any{"name": name, "port": port}}
}

func convertHPA(u *unstructured.Unstructured) {
	metrics, _, _ := unstructured.NestedSlice(u.Object, "spec", "metrics")
	for i, m := range metrics {
		mm, _ := m.(map[string]any)
		r, _ := mm["resource"].(map[string]any)
		if r == nil {
			continue
		}
		if v, ok := r["targetAverageUtilization"]; ok {
			r["target"] = map[string]any{"type": "Utilization", "averageUtilization": v}
			delete(r, "targetAverageUtilization")
		}
		if v, ok := r["targetAverageValue"]; ok {
			r["target"] = map[string]any{"type": "AverageValue", "averageValue": v}
			delete(r, "targetAverageValue")
		}
		metrics[i] = mm
	}
	if len(metrics) > 0 {
		unstructured.SetNestedSlice(u.Object, metrics, "spec", "metrics")
	}
}

// newConvertCommand is `kctl convert -f FILE`: print the manifests with old
// apiVersions rewritten (what the kubectl-convert plugin does).
func newConvertCommand(f *Factory) *cobra.Command {
	var fo fileOptions
	var output string
	cmd := &cobra.Command{
		Use:   "convert -f FILENAME",
		Short: "Rewrite manifests written for old apiVersions (extensions/v1beta1, batch/v1beta1, ...) for today's Kubernetes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(fo.filenames) == 0 {
				return usageError(cmd.CommandPath(), "must specify -f")
			}
			ms, err := fo.read(f.IO.In)
			if err != nil {
				return err
			}
			for _, m := range ms {
				if o := lookupOldAPI(m.obj.GroupVersionKind()); o != nil && o.convert == nil {
					fmt.Fprintf(f.IO.ErrOut, "%s\n", o.explain(m.source))
				}
			}
			convertManifests(ms)
			var p cliprinters.ResourcePrinter = &cliprinters.YAMLPrinter{}
			if output == "json" {
				p = &cliprinters.JSONPrinter{}
			}
			for _, m := range ms {
				if err := p.PrintObj(m.obj, f.IO.Out); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&fo.filenames, "filename", "f", nil, "Filename, directory, or URL to files to convert.")
	cmd.Flags().BoolVarP(&fo.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively.")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "Output format: yaml or json.")
	return cmd
}
