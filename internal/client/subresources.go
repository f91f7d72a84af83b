package client

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Bind binds a pod to a node through pods/binding, as the scheduler does.
func (s *Set) Bind(ctx context.Context, b *corev1.Binding) error {
	return s.REST(corev1.SchemeGroupVersion).Post().
		Namespace(b.Namespace).Resource("pods").Name(b.Name).SubResource("binding").
		VersionedParams(&metav1.CreateOptions{}, s.params).
		Body(b).Do(ctx).Error()
}

// Evict asks to evict a pod through pods/eviction; the API refuses with 429
// when a PodDisruptionBudget does not allow it.
func (s *Set) Evict(ctx context.Context, e *policyv1.Eviction) error {
	return s.REST(corev1.SchemeGroupVersion).Post().
		Namespace(e.Namespace).Resource("pods").Name(e.Name).SubResource("eviction").
		Body(e).Do(ctx).Error()
}

// GetScale reads the scale subresource of a scalable resource (deployments,
// replicasets, statefulsets, replicationcontrollers).
func (s *Set) GetScale(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*autoscalingv1.Scale, error) {
	out := &autoscalingv1.Scale{}
	err := s.REST(gvr.GroupVersion()).Get().
		Namespace(ns).Resource(gvr.Resource).Name(name).SubResource("scale").
		Do(ctx).Into(out)
	return out, err
}

// UpdateScale writes the scale subresource.
func (s *Set) UpdateScale(ctx context.Context, gvr schema.GroupVersionResource, sc *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
	out := &autoscalingv1.Scale{}
	err := s.REST(gvr.GroupVersion()).Put().
		Namespace(sc.Namespace).Resource(gvr.Resource).Name(sc.Name).SubResource("scale").
		Body(sc).Do(ctx).Into(out)
	return out, err
}

// CreateToken requests a token for a service account (serviceaccounts/token).
func (s *Set) CreateToken(ctx context.Context, ns, serviceAccount string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	out := &authenticationv1.TokenRequest{}
	err := s.REST(corev1.SchemeGroupVersion).Post().
		Namespace(ns).Resource("serviceaccounts").Name(serviceAccount).SubResource("token").
		Body(tr).Do(ctx).Into(out)
	return out, err
}
