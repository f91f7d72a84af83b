package agent

import (
	"bytes"
	"context"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// The kubelet's limits on termination messages.
const (
	maxTerminationMessage = 4096
	fallbackLogLines      = 80
	fallbackLogBytes      = 2048
)

// terminationMessage is an exited container's status message: what it
// wrote to its terminationMessagePath, or with FallbackToLogsOnError and a
// failure, the end of its log; else the runtime's message. It is read once
// per container.
func (w *podWorker) terminationMessage(c *runtime.ContainerStatus) string {
	path := c.Annotations[annotationTermination]
	if path == "" || c.State != runtime.StateExited {
		return c.Message
	}
	if m, ok := w.messages[c.ID]; ok {
		return m
	}
	msg := ""
	if f, err := os.Open(path); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, maxTerminationMessage))
		f.Close()
		msg = string(b)
	}
	if msg == "" && c.ExitCode != 0 && c.Annotations[annotationTermPolicy] == string(corev1.TerminationMessageFallbackToLogsOnError) {
		msg = w.logTail(c.ID)
	}
	if msg == "" {
		msg = c.Message
	}
	if w.messages == nil {
		w.messages = map[string]string{}
	}
	w.messages[c.ID] = msg
	return msg
}

// logTail is the end of a container's log, as the fallback message.
func (w *podWorker) logTail(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	tail := int64(fallbackLogLines)
	var b bytes.Buffer
	if err := w.ws.a.parts.Runtime.Logs(ctx, id, runtime.LogOptions{TailLines: &tail}, &b); err != nil {
		return ""
	}
	out := b.Bytes()
	if len(out) > fallbackLogBytes {
		out = out[len(out)-fallbackLogBytes:]
	}
	return string(out)
}
