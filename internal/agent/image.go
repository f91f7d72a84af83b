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
		// PullSecrets: the decoded imagePullSecrets come with issue 5's
		// secret access.
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
