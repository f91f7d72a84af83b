package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/store"
)

// This file is the one place where errors become HTTP statuses. Handlers
// return errors (store sentinels, apierrors, anything else); errorStatus
// turns them into the metav1.Status upstream would send.

// errConflictMsg is upstream's text for a stale resourceVersion.
const errConflictMsg = "the object has been modified; please apply your changes to the latest version and try again"

// errorStatus maps err, raised while working on gr/name, to a Status.
func errorStatus(err error, gr schema.GroupResource, name string) metav1.Status {
	var api apierrors.APIStatus
	if errors.As(err, &api) {
		st := api.Status()
		if st.Status == "" {
			st.Status = metav1.StatusFailure
		}
		return st
	}
	var e *apierrors.StatusError
	switch {
	case errors.Is(err, store.ErrNotFound):
		e = apierrors.NewNotFound(gr, name)
	case errors.Is(err, store.ErrExists):
		e = apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, store.ErrConflict):
		e = apierrors.NewConflict(gr, name, errors.New(errConflictMsg))
	case errors.Is(err, store.ErrCompacted), errors.Is(err, store.ErrWatcherTooSlow):
		e = apierrors.NewResourceExpired(err.Error())
	case errors.Is(err, store.ErrFutureRevision):
		e = apierrors.NewTimeoutError("Too large resource version", 1)
		e.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	case errors.Is(err, store.ErrInvalidContinue):
		e = apierrors.NewBadRequest("The provided continue parameter is not valid: " + err.Error())
	case errors.Is(err, store.ErrValueTooLarge):
		e = apierrors.NewRequestEntityTooLargeError("limit is 3145728")
	case errors.Is(err, store.ErrClosed):
		e = apierrors.NewServiceUnavailable("the server is shutting down")
	case errors.Is(err, context.DeadlineExceeded):
		e = apierrors.NewTimeoutError(fmt.Sprintf("request did not complete within the allotted timeout: %v", err), 0)
	default:
		e = apierrors.NewInternalError(err)
	}
	return e.ErrStatus
}

// writeStatus writes a Status as JSON (clients accept error bodies only in
// a form they can decode, and every client decodes JSON).
func writeStatus(w http.ResponseWriter, st metav1.Status) {
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(st.Details.RetryAfterSeconds)))
	}
	body, _ := json.Marshal(&st)
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(append(body, '\n'))
}

// writeError maps err and writes it.
func writeError(w http.ResponseWriter, err error, gr schema.GroupResource, name string) {
	writeStatus(w, errorStatus(err, gr, name))
}

// badRequest is a 400 with a free-text message.
func badRequest(format string, args ...any) error {
	return apierrors.NewBadRequest(fmt.Sprintf(format, args...))
}

// methodNotAllowed is upstream's 405 for a verb a resource lacks.
func methodNotAllowed(verb string, gr schema.GroupResource) error {
	return apierrors.NewMethodNotSupported(gr, verb)
}

// notFoundPath is the 404 for a path that names nothing served.
func notFoundPath() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
		Details: &metav1.StatusDetails{},
	}}
}

// unauthorized is the 401 for a request without valid credentials.
func unauthorized() metav1.Status {
	return apierrors.NewUnauthorized("Unauthorized").ErrStatus
}
