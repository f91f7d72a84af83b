package podcontrol

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/client"
)

// Event reasons upstream's pod control records on the owner.
const (
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonFailedCreate     = "FailedCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
	ReasonFailedDelete     = "FailedDelete"
)

// Control creates and deletes the pods of one kind of controller.
type Control struct {
	Set      *client.Set
	Recorder record.EventRecorder
}

// Owner is a controller object that owns pods.
type Owner interface {
	runtime.Object
	metav1.Object
}

// ControllerRef is the ownerReference marking owner (of kind gvk) as the
// managing controller, with blockOwnerDeletion as upstream sets it.
func ControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) *metav1.OwnerReference {
	t := true
	return &metav1.OwnerReference{
		APIVersion:         gvk.GroupVersion().String(),
		Kind:               gvk.Kind,
		Name:               owner.GetName(),
		UID:                owner.GetUID(),
		Controller:         &t,
		BlockOwnerDeletion: &t,
	}
}

// PodFromTemplate builds the pod a controller creates from tmpl: the
// template's labels, annotations, finalizers and spec, the controller
// reference, and a generated name prefixed by the owner's name.
func PodFromTemplate(tmpl *corev1.PodTemplateSpec, owner metav1.Object, ref *metav1.OwnerReference) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    owner.GetNamespace(),
			GenerateName: GenerateNamePrefix(owner.GetName()),
			Labels:       copyMap(tmpl.Labels),
			Annotations:  copyMap(tmpl.Annotations),
			Finalizers:   append([]string(nil), tmpl.Finalizers...),
		},
	}
	if ref != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*ref}
	}
	tmpl.Spec.DeepCopyInto(&pod.Spec)
	return pod
}

// GenerateNamePrefix is "<name>-", or name alone when the dash would make
// it too long for a generated pod name (upstream's getPodsPrefix).
func GenerateNamePrefix(name string) string {
	prefix := name + "-"
	// generateName appends 5 characters; the result must be a DNS-1123 subdomain.
	if len(validation.IsDNS1123Subdomain(prefix+"xxxxx")) != 0 {
		prefix = name
	}
	return prefix
}

func copyMap(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// Create creates pod for owner and records SuccessfulCreate or
// FailedCreate on it, as upstream. A namespace being terminated is not
// worth a Warning: the error is returned without an Event.
func (c *Control) Create(ctx context.Context, owner Owner, pod *corev1.Pod) (*corev1.Pod, error) {
	if len(pod.Labels) == 0 {
		return nil, fmt.Errorf("unable to create pods, no labels")
	}
	got, err := c.Set.Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.Recorder.Eventf(owner, corev1.EventTypeWarning, ReasonFailedCreate, "Error creating: %v", err)
		}
		return nil, err
	}
	c.Recorder.Eventf(owner, corev1.EventTypeNormal, ReasonSuccessfulCreate, "Created pod: %v", got.Name)
	return got, nil
}

// Delete deletes the pod ns/name of owner and records SuccessfulDelete or
// FailedDelete. A pod already gone returns its NotFound error and no Event.
func (c *Control) Delete(ctx context.Context, owner Owner, ns, name string) error {
	err := c.Set.Pods(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.Recorder.Eventf(owner, corev1.EventTypeWarning, ReasonFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s/%s: %w", ns, name, err)
	}
	c.Recorder.Eventf(owner, corev1.EventTypeNormal, ReasonSuccessfulDelete, "Deleted pod: %v", name)
	return nil
}

// SlowStartInitialBatchSize is the first batch of SlowStart.
const SlowStartInitialBatchSize = 1

// SlowStart calls fn count times in batches of 1, 2, 4, … run in parallel,
// stopping after the first batch with an error, so that a controller whose
// pods all fail (quota, bad spec) makes one failing call, not hundreds. It
// returns how many calls succeeded and the first error.
func SlowStart(count int, fn func() error) (int, error) {
	done := 0
	for batch := min(count, SlowStartInitialBatchSize); count > 0; batch = min(2*batch, count) {
		errs := make(chan error, batch)
		for i := 0; i < batch; i++ {
			go func() { errs <- fn() }()
		}
		var first error
		ok := 0
		for i := 0; i < batch; i++ {
			if err := <-errs; err != nil {
				if first == nil {
					first = err
				}
			} else {
				ok++
			}
		}
		done += ok
		count -= batch
		if first != nil {
			return done, first
		}
	}
	return done, nil
}
