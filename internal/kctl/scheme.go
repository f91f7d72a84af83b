package kctl

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// newScheme registers the built-in groups kctl knows the Go types of. It
// decides between strategic merge (known types, whose struct tags carry the
// patch strategies) and JSON merge patches (everything else, e.g. CRDs),
// as kubectl does. Built per use; there is no package-level scheme.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, autoscalingv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme, rbacv1.AddToScheme, policyv1.AddToScheme,
		storagev1.AddToScheme, discoveryv1.AddToScheme, coordinationv1.AddToScheme, schedulingv1.AddToScheme,
	} {
		_ = add(s) // only fails on duplicate registrations, which cannot happen here
	}
	return s
}

// typedFor returns an empty typed object for gvk, or nil when kctl does not
// know the type.
func typedFor(s *runtime.Scheme, gvk schema.GroupVersionKind) runtime.Object {
	obj, err := s.New(gvk)
	if err != nil {
		return nil
	}
	return obj
}
