package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// templateSpec finds the pod spec inside a workload and its field path.
func templateSpec(obj runtime.Object) (*corev1.PodSpec, *field.Path) {
	tmpl := field.NewPath("spec", "template", "spec")
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec, tmpl
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.Spec, tmpl
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec, tmpl
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec, tmpl
	case *batchv1.Job:
		return &o.Spec.Template.Spec, tmpl
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, field.NewPath("spec", "jobTemplate", "spec", "template", "spec")
	case *corev1.ReplicationController:
		if o.Spec.Template != nil {
			return &o.Spec.Template.Spec, tmpl
		}
	case *corev1.PodTemplate:
		return &o.Template.Spec, field.NewPath("template", "spec")
	}
	return nil, nil
}

// templateWarnings are the pod warnings for the pod template of a
// workload, as upstream's GetWarningsForPodTemplate.
func templateWarnings(obj, _ runtime.Object) []string {
	if spec, p := templateSpec(obj); spec != nil {
		return podSpecWarnings(spec, p)
	}
	return nil
}

// withTemplateWarnings sets the template warnings on workload strategies.
func withTemplateWarnings(list ...*typeStrategy) {
	for _, s := range list {
		s.warnings = templateWarnings
	}
}
