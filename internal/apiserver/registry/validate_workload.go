package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validation shared by the controllers' objects (apps/v1, batch/v1, core
// ReplicationController), with upstream's paths and messages.

// validateSelector checks a required, non-empty, valid label selector.
// Upstream says "for deployment" for ReplicaSets too; so do we.
func validateSelector(sel *metav1.LabelSelector, p *field.Path, emptyMsg string) (labels.Selector, field.ErrorList) {
	if sel == nil {
		return nil, field.ErrorList{field.Required(p, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p, sel, emptyMsg))
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, append(errs, field.Invalid(p, sel, "invalid label selector"))
	}
	return s, errs
}

// validateTemplate checks a pod template: labels match the selector, the
// pod spec is valid, and (for controllers that keep pods running) the
// restart policy is Always and there is no active deadline.
func validateTemplate(t *corev1.PodTemplateSpec, sel labels.Selector, p *field.Path, keepRunning bool, owner string) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, validateTemplateMeta(&t.ObjectMeta, p.Child("metadata"))...)
	errs = append(errs, validatePodSpec(&t.Spec, &t.ObjectMeta, p.Child("spec"), false)...)
	if keepRunning {
		if t.Spec.RestartPolicy != corev1.RestartPolicyAlways && t.Spec.RestartPolicy != "" {
			errs = append(errs, field.NotSupported(p.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
		}
		if t.Spec.ActiveDeadlineSeconds != nil {
			errs = append(errs, field.Forbidden(p.Child("spec", "activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", owner)))
		}
	}
	return errs
}

// validateTemplateMeta checks labels and annotations of an embedded
// template (no name or namespace rules).
func validateTemplateMeta(m *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(m.Labels, p.Child("labels"))
	return append(errs, apivalidation.ValidateAnnotations(m.Annotations, p.Child("annotations"))...)
}

func nonNegative(v int64, p *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, p)
}

func nonNegativePtr(v *int32, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return nonNegative(int64(*v), p)
}

func immutable(newVal, oldVal any, p *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(newVal, oldVal, p)
}
