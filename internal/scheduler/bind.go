package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/client"
)

// writer is what the scheduler writes to the API.
type writer interface {
	bind(ctx context.Context, b *corev1.Binding) error
	patchPodStatus(ctx context.Context, namespace, name string, patch []byte) error
	deletePod(ctx context.Context, namespace, name string, uid types.UID) error
	updateVolume(ctx context.Context, pv *corev1.PersistentVolume) error
	updateClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error
}

// clientWriter writes through the typed clients.
type clientWriter struct{ c *client.Set }

func (w clientWriter) bind(ctx context.Context, b *corev1.Binding) error { return w.c.Bind(ctx, b) }

func (w clientWriter) patchPodStatus(ctx context.Context, ns, name string, patch []byte) error {
	_, err := w.c.Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

func (w clientWriter) deletePod(ctx context.Context, ns, name string, uid types.UID) error {
	err := w.c.Pods(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (w clientWriter) updateVolume(ctx context.Context, pv *corev1.PersistentVolume) error {
	_, err := w.c.PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{})
	return err
}

func (w clientWriter) updateClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	_, err := w.c.PersistentVolumeClaims(pvc.Namespace).Update(ctx, pvc, metav1.UpdateOptions{})
	return err
}

// bindJob is an assumed pod waiting for its binding to be written.
type bindJob struct {
	qp      *queuedPod
	pod     *podInfo // the assumed pod (nodeName set)
	node    string
	volumes map[string]*corev1.PersistentVolume // claim → chosen volume (nil: to be provisioned)
	claims  []*corev1.PersistentVolumeClaim
}

// binder writes bindings until the job channel closes. Several binders run
// at once so that the datastore commits their writes in groups.
func (s *Scheduler) binder(ctx context.Context) {
	for job := range s.binds {
		s.bind(ctx, job)
	}
}

// bind binds the pod's delayed volume claims, then the pod, through
// pods/binding; on failure the assumption is undone and the pod retried.
func (s *Scheduler) bind(ctx context.Context, job bindJob) {
	pod := job.pod.pod
	err := s.bindVolumes(ctx, job)
	if err == nil {
		err = s.api.bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: job.node},
		})
	}
	if err == nil {
		s.queue.done(pod.UID)
		if s.recorder != nil {
			s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, job.node)
		}
		return
	}
	if ctx.Err() != nil {
		return
	}
	s.logger.Warn("failed to bind pod", "namespace", pod.Namespace, "pod", pod.Name, "node", job.node, "err", err)
	s.cache.mu.Lock()
	s.cache.forget(pod.UID)
	s.cache.mu.Unlock()
	s.queue.onEvent(clusterEvent{kind: eventAssignedPodDelete, pod: pod})
	if apierrors.IsNotFound(err) {
		s.queue.remove(pod.UID)
		return
	}
	s.handleFailure(ctx, job.qp, err, nil)
}

// bindVolumes binds each delayed claim to the volume chosen for it on the
// node, or marks it for provisioning there (annotation
// volume.kubernetes.io/selected-node), as upstream's volume binder.
// kserver has no PersistentVolume controller yet, so the claim side of a
// static binding (spec.volumeName, bind-completed) is written here too.
func (s *Scheduler) bindVolumes(ctx context.Context, job bindJob) error {
	for _, pvc := range job.claims {
		pv, ok := job.volumes[pvc.Name]
		if !ok {
			continue
		}
		if pv == nil {
			c := pvc.DeepCopy()
			metav1.SetMetaDataAnnotation(&c.ObjectMeta, "volume.kubernetes.io/selected-node", job.node)
			if err := s.api.updateClaim(ctx, c); err != nil {
				return fmt.Errorf("annotate claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
			}
			continue
		}
		v := pv.DeepCopy()
		v.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
			Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion}
		metav1.SetMetaDataAnnotation(&v.ObjectMeta, "pv.kubernetes.io/bound-by-controller", "yes")
		if err := s.api.updateVolume(ctx, v); err != nil {
			return fmt.Errorf("bind volume %s: %w", pv.Name, err)
		}
		c := pvc.DeepCopy()
		c.Spec.VolumeName = pv.Name
		metav1.SetMetaDataAnnotation(&c.ObjectMeta, "pv.kubernetes.io/bind-completed", "yes")
		metav1.SetMetaDataAnnotation(&c.ObjectMeta, "pv.kubernetes.io/bound-by-controller", "yes")
		if err := s.api.updateClaim(ctx, c); err != nil {
			return fmt.Errorf("bind claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
		}
	}
	return nil
}
