package image

import (
	"errors"
	"fmt"
)

// Sentinel errors at the package boundary.
var (
	// ErrNotFound: no such image in the store, or no such manifest in a
	// registry.
	ErrNotFound = errors.New("not found")
	// ErrPlatform: the image is not built for this node's platform (such
	// errors match ErrNotFound too, as containerd's do).
	ErrPlatform = errors.New("no match for platform in manifest")
	// ErrInvalidName: the image reference does not parse.
	ErrInvalidName = errors.New("invalid image reference")
	// ErrInUse: the image backs a container root filesystem.
	ErrInUse = errors.New("image is in use by a container")
	// ErrUnauthorized: the registry refused the credentials (or wanted some).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrBadArchive: an archive is neither a docker-save nor an OCI archive,
	// or is damaged.
	ErrBadArchive = errors.New("not a docker-save or OCI image archive")
	// ErrBadLayer: a layer tar is damaged or tries to escape its root.
	ErrBadLayer = errors.New("bad layer")
	// ErrUnreachable: no endpoint of the registry could be reached (DNS,
	// connection or timeout errors, as opposed to an answer such as 404).
	ErrUnreachable = errors.New("registry unreachable")
)

// unreachableError keeps the network error's text and matches ErrUnreachable.
type unreachableError struct{ err error }

func (e unreachableError) Error() string        { return e.err.Error() }
func (e unreachableError) Unwrap() error        { return e.err }
func (e unreachableError) Is(target error) bool { return target == ErrUnreachable }

// Reasons the kubelet puts in a waiting container's state and events.
const (
	ReasonErrImagePull      = "ErrImagePull"
	ReasonImagePullBackOff  = "ImagePullBackOff"
	ReasonErrImageNeverPull = "ErrImageNeverPull"
	ReasonInvalidImageName  = "InvalidImageName"
	ReasonImageInspectError = "ImageInspectError"
)

// PullError is what Ensure returns when a container cannot get its image.
// Reason and Message go into the container's waiting state verbatim.
type PullError struct {
	Reason  string // one of the Reason* constants
	Message string // the waiting message, upstream's wording
	Err     error  // the cause, if any
}

func (e *PullError) Error() string {
	if e.Message == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Message)
}

func (e *PullError) Unwrap() error { return e.Err }
