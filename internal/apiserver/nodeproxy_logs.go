package apiserver

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// servePodLog is GET pods/{name}/log: validated and defaulted here, read
// from the agent's /containerLogs and streamed back as text/plain, flushed
// as it arrives when following.
func (s *Server) servePodLog(c *call) {
	if c.r.Method != http.MethodGet {
		c.fail(methodNotAllowed(c.ri.verb, c.gr))
		return
	}
	q := c.r.URL.Query()
	agentQ, err := podLogQuery(c.ri.name, q)
	if err != nil {
		c.fail(err)
		return
	}
	pod, ok := s.podFor(c)
	if !ok {
		return
	}
	container, err := logContainer(pod, q.Get("container"))
	if err != nil {
		c.fail(err)
		return
	}
	if pod.Spec.NodeName == "" { // no node, no log yet: an empty answer, as upstream
		c.w.Header().Set("Content-Type", "text/plain")
		c.w.WriteHeader(http.StatusOK)
		return
	}
	req, err := s.agentRequest(c.ctx, http.MethodGet, pod.Spec.NodeName,
		"/containerLogs/"+pod.Namespace+"/"+pod.Name+"/"+container, agentQ)
	if err != nil {
		c.fail(err)
		return
	}
	resp, err := s.kubelet.transport.RoundTrip(req)
	if err != nil {
		if c.ctx.Err() == nil {
			c.fail(unknownError(fmt.Sprintf("Get %q: %v", req.URL.String(), err)))
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.fail(agentError(resp, schema.GroupResource{Resource: "pods/log"}, pod.Name))
		return
	}
	c.w.Header().Set("Content-Type", "text/plain")
	c.w.WriteHeader(http.StatusOK)
	copyFlushing(c.w, resp.Body, agentQ.Get("follow") == "true")
}

// copyFlushing copies a log to the client, flushing after every read
// when following so that each line is delivered as it is written.
func copyFlushing(w http.ResponseWriter, body interface{ Read([]byte) (int, error) }, flush bool) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flush {
				_ = rc.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// podLogQuery validates the PodLogOptions of the query (upstream's
// ValidatePodLogOptions: 422 PodLogOptions "name" is invalid) and returns
// the agent's query.
func podLogQuery(name string, q url.Values) (url.Values, error) {
	out := url.Values{}
	for _, b := range []string{"follow", "previous", "timestamps", "insecureSkipTLSVerifyBackend"} {
		if v := q.Get(b); v != "" {
			t, err := strconv.ParseBool(v)
			if err != nil {
				return nil, badRequest("%s: invalid boolean %q", b, v)
			}
			if t && b != "insecureSkipTLSVerifyBackend" {
				out.Set(b, "true")
			}
		}
	}
	ints := map[string]int64{}
	for _, k := range []string{"sinceSeconds", "tailLines", "limitBytes"} {
		if v := q.Get(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, badRequest("%s: invalid integer %q", k, v)
			}
			ints[k] = n
		}
	}
	var errs field.ErrorList
	if n, ok := ints["tailLines"]; ok {
		if n < 0 {
			errs = append(errs, field.Invalid(field.NewPath("tailLines"), n, "must be greater than or equal to 0"))
		}
		out.Set("tailLines", strconv.FormatInt(n, 10))
	}
	if n, ok := ints["limitBytes"]; ok {
		if n < 1 {
			errs = append(errs, field.Invalid(field.NewPath("limitBytes"), n, "must be greater than 0"))
		}
		out.Set("limitBytes", strconv.FormatInt(n, 10))
	}
	n, hasSeconds := ints["sinceSeconds"]
	switch since := q.Get("sinceTime"); {
	case hasSeconds && since != "":
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case hasSeconds:
		if n < 1 {
			errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), n, "must be greater than 0"))
		}
		out.Set("sinceSeconds", strconv.FormatInt(n, 10))
	case since != "":
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			return nil, badRequest("sinceTime: %q is not an RFC 3339 time", since)
		}
		out.Set("sinceTime", t.UTC().Format(time.RFC3339))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	return out, nil
}

// logContainer picks the container of a log request as upstream's
// LogLocation does: the only one, or the one named (any app, init or
// ephemeral container).
func logContainer(pod *corev1.Pod, name string) (string, error) {
	if name != "" {
		if !podHasContainer(pod, name) {
			return "", badRequest("container %s is not valid for pod %s", name, pod.Name)
		}
		return name, nil
	}
	switch len(pod.Spec.Containers) {
	case 1:
		return pod.Spec.Containers[0].Name, nil
	case 0:
		return "", badRequest("a container name must be specified for pod %s", pod.Name)
	}
	names := containerNames(pod.Spec.InitContainers)
	names = append(names, containerNames(pod.Spec.Containers)...)
	for _, e := range pod.Spec.EphemeralContainers {
		names = append(names, e.Name)
	}
	return "", badRequest("a container name must be specified for pod %s, choose one of: %s", pod.Name, names)
}
