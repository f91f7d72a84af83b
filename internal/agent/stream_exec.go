package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rc "k8s.io/apimachinery/pkg/util/remotecommand"

	"kserver.dev/kserver/internal/runtime"
)

// Exec and attach speak the remote-command protocols: SPDY/3.1 with the
// channel.k8s.io family (v1…v5, one SPDY stream per stdio stream, the
// client opening them), or a WebSocket carrying channel-prefixed messages
// (channel.k8s.io, base64.channel.k8s.io, v4.*, v5.channel.k8s.io with its
// half-close signal). The session ends with a Status on the error stream:
// Success, the exit code as NonZeroExitCode, or an InternalError.

// spdyChannelProtocols are the SPDY remote-command versions, newest first.
var spdyChannelProtocols = []string{rc.StreamProtocolV5Name, rc.StreamProtocolV4Name,
	rc.StreamProtocolV3Name, rc.StreamProtocolV2Name, rc.StreamProtocolV1Name}

// execOptions are the streams a client asked for (input, output, error,
// tty query parameters; "1" means yes).
type execOptions struct {
	stdin, stdout, stderr, tty bool
}

func parseExecOptions(r *http.Request) (execOptions, error) {
	q := r.URL.Query()
	o := execOptions{stdin: q.Get(corev1.ExecStdinParam) == "1", stdout: q.Get(corev1.ExecStdoutParam) == "1",
		stderr: q.Get(corev1.ExecStderrParam) == "1", tty: q.Get(corev1.ExecTTYParam) == "1"}
	if o.tty {
		o.stderr = false // a terminal has one output stream
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

// session is an established remote-command connection.
type session struct {
	conn   io.Closer
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	resize chan runtime.TerminalSize
	// writeStatus reports the outcome on the error stream.
	writeStatus func(*metav1.Status) error
	// ctx ends when the client's connection closes (SPDY) or the request
	// ends.
	ctx    context.Context
	cancel context.CancelFunc
}

func (s *session) close() {
	s.cancel()
	_ = s.conn.Close()
}

// serveExec is /exec/{ns}/{pod}[/{uid}]/{container}?command=….
func (s *StreamServer) serveExec(w http.ResponseWriter, r *http.Request) {
	o, err := parseExecOptions(r)
	if err != nil {
		plainError(w, http.StatusBadRequest, err.Error())
		return
	}
	command := r.URL.Query()[corev1.ExecCommandParam]
	c, ok := s.runningContainer(w, r)
	if !ok {
		return
	}
	sess, ok := s.openSession(w, r, o)
	if !ok {
		return
	}
	defer sess.close()
	code, err := s.h.rt.Exec(sess.ctx, c.ID, runtime.ExecOptions{Command: command, Stdin: sess.stdin,
		Stdout: sess.stdout, Stderr: sess.stderr, TTY: o.tty, Resize: sess.resize})
	st := &metav1.Status{Status: metav1.StatusSuccess}
	switch {
	case err != nil:
		st = &apierrors.NewInternalError(fmt.Errorf("error executing command in container: %w", err)).ErrStatus
	case code != 0:
		st = exitStatus(command, code)
	}
	if err := sess.writeStatus(st); err != nil {
		s.h.log.Debug("exec status not delivered", "err", err)
	}
}

// serveAttach is /attach/{ns}/{pod}[/{uid}]/{container}.
func (s *StreamServer) serveAttach(w http.ResponseWriter, r *http.Request) {
	o, err := parseExecOptions(r)
	if err != nil {
		plainError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, ok := s.runningContainer(w, r)
	if !ok {
		return
	}
	sess, ok := s.openSession(w, r, o)
	if !ok {
		return
	}
	defer sess.close()
	st := &metav1.Status{Status: metav1.StatusSuccess}
	err = s.h.rt.Attach(sess.ctx, c.ID, runtime.AttachOptions{Stdin: sess.stdin, Stdout: sess.stdout,
		Stderr: sess.stderr, TTY: o.tty, Resize: sess.resize})
	if err != nil {
		st = &apierrors.NewInternalError(fmt.Errorf("error attaching to container: %w", err)).ErrStatus
	}
	if err := sess.writeStatus(st); err != nil {
		s.h.log.Debug("attach status not delivered", "err", err)
	}
}

// exitStatus is the Status of a command that exited with code, as the
// kubelet words it; kubectl exits with the code of the ExitCode cause.
func exitStatus(command []string, code int) *metav1.Status {
	return &metav1.Status{
		Status: metav1.StatusFailure,
		Reason: rc.NonZeroExitCodeReason,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Type: rc.ExitCodeCauseType, Message: fmt.Sprint(code)},
		}},
		Message: fmt.Sprintf("command terminated with non-zero exit code: error executing command %v, exit code %d",
			command, code),
	}
}

// runningContainer finds the running container a request names, or
// answers as the kubelet does (404 for an unknown pod, 500 with
// `container not found ("c")` for a container that does not run).
func (s *StreamServer) runningContainer(w http.ResponseWriter, r *http.Request) (*runtime.ContainerStatus, bool) {
	ns, name, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	pod, ok := s.h.pod(ns, name)
	if !ok || (r.PathValue("uid") != "" && string(pod.UID) != r.PathValue("uid")) {
		plainError(w, http.StatusNotFound, "pod does not exist")
		return nil, false
	}
	c, err := s.newestContainer(r, string(pod.UID), container, true)
	if err != nil {
		plainError(w, http.StatusInternalServerError, err.Error())
		return nil, false
	}
	if c == nil {
		plainError(w, http.StatusInternalServerError, fmt.Sprintf("container not found (%q)", container))
		return nil, false
	}
	return c, true
}

// openSession upgrades the request to a WebSocket or SPDY session with the
// streams the client asked for. When it fails the client has its answer.
func (s *StreamServer) openSession(w http.ResponseWriter, r *http.Request, o execOptions) (*session, bool) {
	if isWebSocket(r) {
		return s.openWebSocketSession(w, r, o)
	}
	return s.openSPDYSession(w, r, o)
}

// handleResizes turns JSON terminal sizes ({"Width":80,"Height":24}) into
// runtime resizes until the stream ends.
func handleResizes(ctx context.Context, in io.Reader, out chan<- runtime.TerminalSize) {
	defer close(out)
	dec := json.NewDecoder(in)
	for {
		var size struct{ Width, Height uint16 }
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case out <- runtime.TerminalSize{Rows: size.Height, Cols: size.Width}:
		case <-ctx.Done():
			return
		}
	}
}

// v1StatusWriter writes a failure's message as text and nothing on success
// (channel.k8s.io, v2, v3).
func v1StatusWriter(w io.Writer) func(*metav1.Status) error {
	return func(st *metav1.Status) error {
		if st.Status == metav1.StatusSuccess {
			return nil
		}
		_, err := io.WriteString(w, st.Message)
		return err
	}
}

// v4StatusWriter writes the Status as JSON (v4, v5).
func v4StatusWriter(w io.Writer) func(*metav1.Status) error {
	return func(st *metav1.Status) error {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
}

// isWebSocket reports a WebSocket upgrade request.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}
