package apiserver

import (
	"context"
	"io"
	"net/http"
	"sync"

	"k8s.io/client-go/rest"
)

// Transport returns an http.RoundTripper that serves requests with this
// server in-process, authenticated as u: in-process components (controllers,
// scheduler, the embedded agent) reach the API without TCP or TLS. Streamed
// responses (watches) flow through a pipe as the handler writes them; closing
// the response body cancels the request.
func (s *Server) Transport(u User) http.RoundTripper {
	return &memTransport{s: s, user: u}
}

// RestConfig is a client-go configuration that uses Transport(u), speaking
// protobuf (JSON where a client or type needs it). The store holds JSON,
// so a protobuf response costs the server a decode and an encode where a
// JSON one is a copy of the stored bytes; but every watcher of an object
// then decodes protobuf instead of JSON, several times cheaper, and the
// server's decode is shared by all watchers and usually saved altogether
// (the decoded cache keeps what was just written). With the three
// informers kserver runs on every ConfigMap, a write costs ~80 µs of
// watch CPU with protobuf against ~260 µs with JSON
// (BenchmarkInformerFanout); the scheduler measured 18% less CPU per pod.
func (s *Server) RestConfig(u User) *rest.Config {
	return &rest.Config{
		Host:      "http://kserver.in-memory",
		Transport: s.Transport(u),
		UserAgent: u.Name,
		QPS:       -1,
		ContentConfig: rest.ContentConfig{
			ContentType:        mediaProtobuf,
			AcceptContentTypes: mediaProtobuf + "," + mediaJSON,
		},
	}
}

type memTransport struct {
	s    *Server
	user User
}

func (t *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	r := req.Clone(WithUser(ctx, t.user))
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RemoteAddr = "in-memory"
	r.RequestURI = r.URL.RequestURI()
	pr, pw := io.Pipe()
	rw := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			rw.WriteHeader(http.StatusOK) // no-op unless the handler wrote nothing
			_ = pw.Close()
		}()
		t.s.ServeHTTP(rw, r)
	}()
	select {
	case <-rw.ready:
	case <-ctx.Done():
		cancel()
		_ = pr.Close()
		return nil, ctx.Err()
	}
	return &http.Response{
		Status:        http.StatusText(rw.code),
		StatusCode:    rw.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          &cancelBody{ReadCloser: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeWriter is the handler's side of an in-memory response.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	pw     *io.PipeWriter
	once   sync.Once
	code   int
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

// Flush is a no-op: every Write reaches the reader before it returns.
func (w *pipeWriter) Flush() {}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}
