package agent

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/image"
)

// retryImage is when a container whose image could not be had is tried
// again; the image service's own back-off decides whether that try pulls.
const retryImage = retryAfterError

// ensureImage is the image step of one container, run just before it is
// created, as the kubelet pulls: the pull policy and per-pod back-off of
// the image service, its events recorded on the container, and on failure
// the container waits with the service's reason (ErrImagePull,
// ImagePullBackOff, ErrImageNeverPull, InvalidImageName).
func (w *podWorker) ensureImage(ctx context.Context, r *podRun, c *corev1.Container, ref *corev1.ObjectReference) (image.Image, bool) {
	a := w.ws.a
	img, events, err := a.parts.Images.Ensure(ctx, image.EnsureRequest{
		Image: c.Image, PullPolicy: c.ImagePullPolicy, PodUID: string(r.pod.UID),
		PullSecrets: w.pullSecrets(ctx, r.pod),
	})
	for _, ev := range events {
		a.rec.Event(ref, ev.Type, ev.Reason, ev.Message)
	}
	if err != nil {
		msg := err.Error()
		var pe *image.PullError
		if errors.As(err, &pe) {
			msg = pe.Message
		}
		r.wait(c.Name, image.Reason(err), msg)
		r.after(r.now.Add(retryImage))
		return image.Image{}, false
	}
	return img, true
}

// pullSecrets are the registry credentials of the pod's imagePullSecrets
// (.dockerconfigjson or .dockercfg). A secret that cannot be read is left
// out, as the kubelet does: the pull may still succeed without it.
func (w *podWorker) pullSecrets(ctx context.Context, pod *corev1.Pod) [][]byte {
	a := w.ws.a
	var out [][]byte
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		s, err := a.objects.secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			a.log.Info("unable to retrieve pull secret, the image pull may not succeed", "namespace", pod.Namespace,
				"pod", pod.Name, "secret", ref.Name, "err", err)
			continue
		}
		for _, key := range []string{corev1.DockerConfigJsonKey, corev1.DockerConfigKey} {
			if b, ok := s.Data[key]; ok {
				out = append(out, b)
			}
		}
	}
	return out
}
