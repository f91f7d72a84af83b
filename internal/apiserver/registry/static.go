package registry

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Node agents run static pods from manifest files, without the API server
// to default and validate them; these give them the same rules.

// DefaultStaticPod applies the API's defaults for a pod create.
func DefaultStaticPod(p *corev1.Pod) { defaultPod(p) }

// ValidateStaticPodSpec validates a pod's spec as a create would.
func ValidateStaticPodSpec(p *corev1.Pod) error {
	meta := p.ObjectMeta
	return validatePodSpec(&p.Spec, &metav1.ObjectMeta{Name: meta.Name, Namespace: meta.Namespace}, field.NewPath("spec"), true).ToAggregate()
}
