package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// EnsureRequest asks for the image of one container.
type EnsureRequest struct {
	// Image is container.image exactly as the pod spec has it; messages
	// quote it so.
	Image string
	// PullPolicy is container.imagePullPolicy; "" gets the API's default
	// (Always for :latest or no tag, else IfNotPresent).
	PullPolicy corev1.PullPolicy
	// PodUID keys the back-off, as the kubelet's "<pod UID>_<image>".
	PodUID string
	// PullSecrets are the decoded data of the pod's imagePullSecrets:
	// .dockerconfigjson or .dockercfg contents.
	PullSecrets [][]byte
}

// Event is one event the kubelet records on the pod for this step, in its
// own words ("Pulling", "Pulled", "Failed", "BackOff", ...).
type Event struct {
	Type    string // corev1.EventTypeNormal or corev1.EventTypeWarning
	Reason  string
	Message string
}

// Kubelet event reasons of the image step.
const (
	EventPulling             = "Pulling"
	EventPulled              = "Pulled"
	EventFailed              = "Failed"
	EventBackOff             = "BackOff"
	EventInspectFailed       = "InspectFailed"
	EventErrImageNeverPull   = "ErrImageNeverPull"
	EventFreeDiskSpaceFailed = "FreeDiskSpaceFailed"
)

// DefaultPullPolicy is what the API server fills in for an empty policy.
func DefaultPullPolicy(image string) corev1.PullPolicy {
	ref, err := ParseReference(image)
	if err == nil && (ref.Digest != "" || ref.Tag != "latest") {
		return corev1.PullIfNotPresent
	}
	return corev1.PullAlways
}

// Ensure makes a container's image present following its pull policy, with
// the kubelet's per-pod back-off. It returns the image, the events to
// record (also on failure) and, on failure, a *PullError whose Reason and
// Message are the container's waiting state.
func (s *Store) Ensure(ctx context.Context, req EnsureRequest) (Image, []Event, error) {
	var events []Event
	emit := func(typ, reason, format string, args ...any) {
		events = append(events, Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	fail := func(reason, msg string, cause error) (Image, []Event, error) {
		emit(corev1.EventTypeWarning, EventFailed, "Error: %s", reason)
		return Image{}, events, &PullError{Reason: reason, Message: msg, Err: cause}
	}
	ref, err := ParseReference(req.Image)
	if err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: %v", req.Image, err)
		emit(corev1.EventTypeWarning, EventInspectFailed, "%s", msg)
		return fail(ReasonInvalidImageName, msg, err)
	}
	policy := req.PullPolicy
	if policy == "" {
		policy = DefaultPullPolicy(req.Image)
	}
	if policy != corev1.PullAlways {
		if im, err := s.Get(ref.String()); err == nil {
			emit(corev1.EventTypeNormal, EventPulled, "Container image %q already present on machine", req.Image)
			return im, events, nil
		}
		if policy == corev1.PullNever {
			msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", req.Image)
			emit(corev1.EventTypeWarning, EventErrImageNeverPull, "%s", msg)
			return fail(ReasonErrImageNeverPull, msg, ErrNotFound)
		}
	}
	key := req.PodUID + "_" + req.Image
	if in, last := s.backoff.InBackOff(key); in {
		emit(corev1.EventTypeNormal, EventBackOff, "Back-off pulling image %q", req.Image)
		msg := fmt.Sprintf("Back-off pulling image %q", req.Image)
		if last != "" {
			msg += ": " + ReasonErrImagePull + ": " + last
		}
		return fail(ReasonImagePullBackOff, msg, nil)
	}
	emit(corev1.EventTypeNormal, EventPulling, "Pulling image %q", req.Image)
	start := time.Now()
	im, err := s.pullWithSecrets(ctx, ref, req.PullSecrets)
	if err != nil && policy == corev1.PullAlways && s.cfg.OfflineFallback && errors.Is(err, ErrUnreachable) {
		if local, lerr := s.Get(ref.String()); lerr == nil {
			emit(corev1.EventTypeNormal, EventPulled, "Container image %q already present on machine; the registry is unreachable, so the local image is used", req.Image)
			return local, events, nil
		}
	}
	if err != nil {
		emit(corev1.EventTypeWarning, EventFailed, "Failed to pull image %q: %v", req.Image, err)
		s.backoff.Next(key, err.Error())
		return fail(ReasonErrImagePull, err.Error(), err)
	}
	took := time.Since(start).Truncate(time.Millisecond)
	emit(corev1.EventTypeNormal, EventPulled, "Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.",
		req.Image, took, took, im.Size)
	s.backoff.GC()
	return im, events, nil
}

func (s *Store) pullWithSecrets(ctx context.Context, ref Reference, secrets [][]byte) (Image, error) {
	keyring, err := ParseKeyring(secrets...)
	if err != nil {
		return Image{}, fmt.Errorf("invalid image pull secret: %w", err)
	}
	return s.Pull(ctx, ref.String(), keyring)
}

// Reason returns the waiting reason of an Ensure error ("" for nil, and
// ErrImagePull for an error that is not a *PullError).
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var pe *PullError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return ReasonErrImagePull
}
