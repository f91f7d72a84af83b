package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
	corev1 "k8s.io/api/core/v1"
	pfconst "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"kserver.dev/kserver/internal/runtime"
)

// Port-forward speaks portforward.k8s.io over SPDY/3.1: for every TCP
// connection kubectl accepts it opens an error and a data stream sharing a
// requestID and a port header; the pair is connected to the port inside
// the pod's network namespace. kubectl 1.31+ sends the same SPDY bytes
// tunnelled in WebSocket binary messages (sub-protocol
// SPDY/3.1+portforward.k8s.io). Browsers use the older WebSocket protocol
// with ?port= and two channels per port.

// servePortForward is /portForward/{ns}/{pod}[/{uid}].
func (s *StreamServer) servePortForward(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("pod")
	pod, ok := s.h.pod(ns, name)
	if !ok || (r.PathValue("uid") != "" && string(pod.UID) != r.PathValue("uid")) {
		plainError(w, http.StatusNotFound, "pod does not exist")
		return
	}
	sb, found, err := s.podSandbox(r, string(pod.UID))
	if err != nil {
		plainError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !found || sb.State != runtime.SandboxReady {
		plainError(w, http.StatusInternalServerError, fmt.Sprintf("pod not found (%q)", name+"_"+ns))
		return
	}
	f := &forwarder{s: s, sandbox: sb.ID, pod: name + "_" + ns, uid: string(pod.UID)}
	switch {
	case wsstream.IsWebSocketRequestWithTunnelingProtocol(r):
		f.serveTunnel(w, r)
	case isWebSocket(r):
		f.serveWebSocket(w, r)
	default:
		conn, _, streams, ok := upgradeSPDY(w, r, []string{pfconst.PortForwardV1Name}, acceptPortForwardStream)
		if !ok {
			return
		}
		defer conn.Close()
		f.run(conn, streams)
	}
}

// forwarder serves the port-forward streams of one connection.
type forwarder struct {
	s       *StreamServer
	sandbox string
	pod     string // name_namespace, for messages
	uid     string
}

// acceptPortForwardStream refuses streams without a valid port and type.
func acceptPortForwardStream(st httpstream.Stream) error {
	p := st.Headers().Get(corev1.PortHeader)
	if p == "" {
		return fmt.Errorf("%q header is required", corev1.PortHeader)
	}
	if n, err := strconv.ParseUint(p, 10, 16); err != nil || n < 1 {
		return fmt.Errorf("unable to parse %q as a port", p)
	}
	switch t := st.Headers().Get(corev1.StreamType); t {
	case corev1.StreamTypeError, corev1.StreamTypeData:
		return nil
	case "":
		return fmt.Errorf("%q header is required", corev1.StreamType)
	default:
		return fmt.Errorf("invalid stream type %q", t)
	}
}

// streamPair is the error and data stream of one forwarded connection.
type streamPair struct {
	data, errs httpstream.Stream
	complete   chan struct{}
}

// run pairs streams by requestID and forwards each complete pair until the
// connection closes. A pair not completed within the stream creation
// timeout is dropped with an error.
func (f *forwarder) run(conn httpstream.Connection, streams <-chan newStream) {
	var mu sync.Mutex
	pairs := map[string]*streamPair{}
	for {
		select {
		case <-conn.CloseChan():
			return
		case st := <-streams:
			id := requestID(st.Stream)
			mu.Lock()
			p := pairs[id]
			if p == nil {
				p = &streamPair{complete: make(chan struct{})}
				pairs[id] = p
				go f.expire(&mu, pairs, id, p, conn)
			}
			done := p.add(st.Stream)
			mu.Unlock()
			if done {
				go f.forward(conn, p)
			}
		}
	}
}

// expire removes a pair once complete, or after the timeout with an error.
func (f *forwarder) expire(mu *sync.Mutex, pairs map[string]*streamPair, id string, p *streamPair, conn httpstream.Connection) {
	t := time.NewTimer(streamCreationTimeout)
	defer t.Stop()
	select {
	case <-p.complete:
	case <-t.C:
		mu.Lock()
		if p.errs != nil {
			_, _ = fmt.Fprintf(p.errs, "timed out waiting for streams of request %s", id)
		}
		mu.Unlock()
	case <-conn.CloseChan():
	}
	mu.Lock()
	delete(pairs, id)
	mu.Unlock()
}

// add files a stream in its pair and reports whether the pair is complete
// (caller holds the lock).
func (p *streamPair) add(st httpstream.Stream) bool {
	switch st.Headers().Get(corev1.StreamType) {
	case corev1.StreamTypeError:
		if p.errs == nil {
			p.errs = st
		}
	case corev1.StreamTypeData:
		if p.data == nil {
			p.data = st
		}
	}
	if p.errs != nil && p.data != nil {
		select {
		case <-p.complete:
			return false
		default:
			close(p.complete)
			return true
		}
	}
	return false
}

// requestID pairs a client's streams; clients too old to send one get the
// kubelet's guess from the stream IDs.
func requestID(st httpstream.Stream) string {
	if id := st.Headers().Get(corev1.PortForwardRequestIDHeader); id != "" {
		return id
	}
	if st.Headers().Get(corev1.StreamType) == corev1.StreamTypeData {
		return strconv.Itoa(int(st.Identifier()) - 2)
	}
	return strconv.Itoa(int(st.Identifier()))
}

// forward connects one pair's data stream to the port and reports a
// failure as text on its error stream, as kubectl prints it.
func (f *forwarder) forward(conn httpstream.Connection, p *streamPair) {
	defer conn.RemoveStreams(p.data, p.errs)
	defer p.errs.Close()
	defer p.data.Close()
	port, _ := strconv.ParseInt(p.data.Headers().Get(corev1.PortHeader), 10, 32)
	if err := f.s.h.rt.PortForward(context.Background(), f.sandbox, int32(port), p.data); err != nil {
		_, _ = fmt.Fprintf(p.errs, "error forwarding port %d to pod %s, uid %s: %v", port, f.pod, f.uid, err)
		f.s.h.log.Debug("port-forward", "pod", f.pod, "port", port, "err", err)
	}
}

// serveTunnel is port-forward over WebSocket: the binary messages carry
// the bytes of a SPDY connection that then speaks portforward.k8s.io.
func (f *forwarder) serveTunnel(w http.ResponseWriter, r *http.Request) {
	srv := websocket.Server{
		Handshake: func(cfg *websocket.Config, _ *http.Request) error {
			for _, p := range cfg.Protocol {
				if strings.TrimSpace(p) == pfconst.WebsocketsSPDYTunnelingPortForwardV1 {
					cfg.Protocol = []string{pfconst.WebsocketsSPDYTunnelingPortForwardV1}
					return nil
				}
			}
			return fmt.Errorf("requested protocol(s) are not supported: %v", cfg.Protocol)
		},
		Handler: func(ws *websocket.Conn) {
			ws.PayloadType = websocket.BinaryFrame
			streams := make(chan newStream)
			done := make(chan struct{})
			defer close(done)
			conn, err := spdy.NewServerConnection(ws, func(st httpstream.Stream, replySent <-chan struct{}) error {
				if err := acceptPortForwardStream(st); err != nil {
					return err
				}
				select {
				case streams <- newStream{Stream: st, replySent: replySent}:
					return nil
				case <-done:
					return errors.New("the session is over")
				}
			})
			if err != nil {
				f.s.h.log.Debug("port-forward tunnel", "err", err)
				return
			}
			defer conn.Close()
			conn.SetIdleTimeout(streamIdleTimeout)
			f.run(conn, streams)
		},
	}
	srv.ServeHTTP(w, r)
}

// serveWebSocket is the browsers' port-forward protocol: ?port=p1,p2…,
// channel 2i carries port i's data and 2i+1 its errors, and each channel's
// first message is its port as little-endian uint16.
func (f *forwarder) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	ports, err := queryPorts(r)
	if err != nil {
		plainError(w, http.StatusBadRequest, err.Error())
		return
	}
	channels := make([]wsstream.ChannelType, 0, 2*len(ports))
	for range ports {
		channels = append(channels, wsstream.ReadWriteChannel, wsstream.WriteChannel)
	}
	bin := wsstream.ChannelProtocolConfig{Binary: true, Channels: channels}
	b64 := wsstream.ChannelProtocolConfig{Binary: false, Channels: channels}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"": bin, "v4." + wsstream.ChannelWebSocketProtocol: bin, "v4." + wsstream.Base64ChannelWebSocketProtocol: b64})
	conn.SetIdleTimeout(streamIdleTimeout)
	_, chans, err := conn.Open(w, r)
	if err != nil {
		f.s.h.log.Debug("port-forward websocket", "err", err)
		return
	}
	defer conn.Close()
	var wg sync.WaitGroup
	for i, port := range ports {
		data, errs := chans[2*i], chans[2*i+1]
		var head [2]byte
		binary.LittleEndian.PutUint16(head[:], port)
		if _, err := data.Write(head[:]); err != nil {
			return
		}
		if _, err := errs.Write(head[:]); err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.s.h.rt.PortForward(r.Context(), f.sandbox, int32(port), data); err != nil {
				_, _ = fmt.Fprintf(errs, "error forwarding port %d to pod %s, uid %s: %v", port, f.pod, f.uid, err)
			}
		}()
	}
	wg.Wait()
}

// queryPorts reads ?port=80&port=443 or ?port=80,443.
func queryPorts(r *http.Request) ([]uint16, error) {
	var ports []uint16
	for _, v := range r.URL.Query()[corev1.PortHeader] {
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("unable to parse %q as a port", p)
			}
			ports = append(ports, uint16(n))
		}
	}
	if len(ports) == 0 {
		return nil, errors.New(`query parameter "port" is required`)
	}
	return ports, nil
}
