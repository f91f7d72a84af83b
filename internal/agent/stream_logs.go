package agent

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// serveLogs is /containerLogs/{ns}/{pod}/{container}: the container's log
// in plain text, streamed and flushed line by line with follow. Errors are
// plain text with the kubelet's status codes and messages (the API server
// turns a 400 into a BadRequest Status carrying the message).
func (s *StreamServer) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	opts, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		plainError(w, http.StatusBadRequest, err.Error())
		return
	}
	pod, ok := s.h.pod(ns, name)
	if !ok {
		plainError(w, http.StatusNotFound, fmt.Sprintf("pod %q does not exist", name))
		return
	}
	if !specHas(pod, container) {
		plainError(w, http.StatusNotFound, fmt.Sprintf("container %q not found in pod %q", container, name))
		return
	}
	c, err := s.newestContainer(r, string(pod.UID), container, false)
	if err != nil {
		plainError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if c == nil || (opts.Previous && c.Attempt == 0) {
		plainError(w, http.StatusBadRequest, logStatusError(pod, container, opts.Previous).Error())
		return
	}
	out := &logWriter{w: w, flush: opts.Follow}
	err = s.h.rt.Logs(r.Context(), c.ID, opts, out)
	switch {
	case err == nil || r.Context().Err() != nil:
	case out.started:
		s.h.log.Debug("container log ended early", "namespace", ns, "pod", name, "container", container, "err", err)
	case opts.Previous && errors.Is(err, runtime.ErrNotFound):
		plainError(w, http.StatusBadRequest, logStatusError(pod, container, true).Error())
	default:
		plainError(w, http.StatusBadRequest, err.Error())
	}
	if !out.started && err == nil {
		out.start() // an empty log is still a 200
	}
}

// parseLogOptions reads the kubelet's log query.
func parseLogOptions(q url.Values, now time.Time) (runtime.LogOptions, error) {
	o := runtime.LogOptions{
		Follow: isTrueParam(q.Get("follow")), Previous: isTrueParam(q.Get("previous")),
		Timestamps: isTrueParam(q.Get("timestamps")),
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("sinceSeconds %q must be a positive integer", v)
		}
		o.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		if !o.Since.IsZero() {
			return o, errors.New("at most one of `sinceTime` or `sinceSeconds` may be specified")
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return o, fmt.Errorf("sinceTime %q is not an RFC 3339 time", v)
		}
		o.Since = t
	}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return o, fmt.Errorf("tailLines %q must be a non-negative integer", v)
		}
		o.TailLines = &n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("limitBytes %q must be a positive integer", v)
		}
		o.LimitBytes = n
	}
	return o, nil
}

func isTrueParam(s string) bool { return s == "true" || s == "1" }

// logStatusError says why a container has no log to show, in the
// kubelet's words (validateContainerLogStatus), from the pod's status.
func logStatusError(pod *corev1.Pod, name string, previous bool) error {
	if previous {
		return fmt.Errorf("previous terminated container %q in pod %q not found", name, pod.Name)
	}
	st := containerStatus(pod, name)
	switch {
	case st == nil:
		return fmt.Errorf("container %q in pod %q is not available", name, pod.Name)
	case st.State.Terminated != nil || st.LastTerminationState.Terminated != nil:
		return fmt.Errorf("container %q in pod %q is terminated", name, pod.Name)
	case st.State.Waiting != nil:
		switch reason := st.State.Waiting.Reason; reason {
		case "ErrImagePull":
			return fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", name, pod.Name)
		case "ImagePullBackOff":
			return fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", name, pod.Name)
		default:
			return fmt.Errorf("container %q in pod %q is waiting to start: %s", name, pod.Name, reason)
		}
	}
	return fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", name, pod.Name)
}

// containerStatus finds a container's status among the pod's app, init and
// ephemeral containers.
func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses,
		pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// logWriter sends the 200 header with the first bytes and, when following,
// flushes every write so that each line reaches the client at once.
type logWriter struct {
	w       http.ResponseWriter
	flush   bool
	started bool
}

func (l *logWriter) start() {
	l.started = true
	l.w.Header().Set("Content-Type", "text/plain")
	l.w.WriteHeader(http.StatusOK)
}

func (l *logWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	n, err := l.w.Write(p)
	if err == nil && l.flush {
		err = http.NewResponseController(l.w).Flush()
	}
	return n, err
}
