package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	rc "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"kserver.dev/kserver/internal/runtime"
)

// newStream is a SPDY stream the client opened, with the channel closed
// once the server's reply to it is queued.
type newStream struct {
	httpstream.Stream
	replySent <-chan struct{}
}

// upgradeSPDY negotiates one of protocols (X-Stream-Protocol-Version) and
// upgrades the connection to SPDY/3.1; accept validates each stream the
// client opens before it is handed over on the returned channel. ok is
// false when the client has been answered with an error.
func upgradeSPDY(w http.ResponseWriter, r *http.Request, protocols []string,
	accept func(httpstream.Stream) error) (conn httpstream.Connection, protocol string, streams <-chan newStream, ok bool) {
	protocol, err := httpstream.Handshake(r, w, protocols)
	if err != nil {
		return nil, "", nil, false // Handshake answered 400/403
	}
	ch := make(chan newStream)
	done := make(chan struct{})
	conn = spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, replySent <-chan struct{}) error {
		if accept != nil {
			if err := accept(st); err != nil {
				return err
			}
		}
		select {
		case ch <- newStream{Stream: st, replySent: replySent}:
			return nil
		case <-done:
			return errors.New("the session is over")
		}
	})
	if conn == nil {
		return nil, "", nil, false // the upgrader answered
	}
	conn.SetIdleTimeout(streamIdleTimeout)
	go func() {
		<-conn.CloseChan()
		close(done)
	}()
	return conn, protocol, ch, true
}

// openSPDYSession waits for the client's streams: error first, then the
// stdio streams asked for and, for a terminal with v3 or later, resize.
func (s *StreamServer) openSPDYSession(w http.ResponseWriter, r *http.Request, o execOptions) (*session, bool) {
	conn, protocol, streams, ok := upgradeSPDY(w, r, spdyChannelProtocols, nil)
	if !ok {
		return nil, false
	}
	resizable := protocol != rc.StreamProtocolV1Name && protocol != rc.StreamProtocolV2Name && protocol != ""
	expected := 1
	for _, b := range []bool{o.stdin, o.stdout, o.stderr, o.tty && resizable} {
		if b {
			expected++
		}
	}
	got, err := collectStreams(streams, expected, streamCreationTimeout)
	if err != nil {
		s.h.log.Debug("remote command session", "err", err)
		_ = conn.Close()
		return nil, false
	}
	ctx, cancel := context.WithCancel(r.Context())
	go func() {
		select {
		case <-conn.CloseChan():
			cancel()
		case <-ctx.Done():
		}
	}()
	sess := &session{conn: conn, ctx: ctx, cancel: cancel}
	if st := got[corev1.StreamTypeError]; st != nil {
		sess.writeStatus = v1StatusWriter(st)
		if protocol == rc.StreamProtocolV4Name || protocol == rc.StreamProtocolV5Name {
			sess.writeStatus = v4StatusWriter(st)
		}
	} else {
		sess.writeStatus = v1StatusWriter(io.Discard)
	}
	setStreams(sess, o, got[corev1.StreamTypeStdin], got[corev1.StreamTypeStdout], got[corev1.StreamTypeStderr],
		got[corev1.StreamTypeResize])
	return sess, true
}

// collectStreams gathers expected streams by their streamType header.
func collectStreams(streams <-chan newStream, expected int, timeout time.Duration) (map[string]httpstream.Stream, error) {
	got := map[string]httpstream.Stream{}
	replied := make(chan struct{}, expected)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for n := 0; n < expected; {
		select {
		case st := <-streams:
			t := st.Headers().Get(corev1.StreamType)
			switch t {
			case corev1.StreamTypeError, corev1.StreamTypeStdin, corev1.StreamTypeStdout, corev1.StreamTypeStderr,
				corev1.StreamTypeResize:
				if _, dup := got[t]; dup {
					continue
				}
				got[t] = st
				go func() {
					<-st.replySent
					replied <- struct{}{}
				}()
			}
		case <-replied:
			n++
		case <-timer.C:
			return nil, errors.New("timed out waiting for client to create streams")
		}
	}
	return got, nil
}

// webSocketChannels are the channels of a remote-command WebSocket:
// stdin, stdout, stderr, error, resize.
func webSocketChannels(o execOptions) []wsstream.ChannelType {
	pick := func(on bool, t wsstream.ChannelType) wsstream.ChannelType {
		if on {
			return t
		}
		return wsstream.IgnoreChannel
	}
	return []wsstream.ChannelType{pick(o.stdin, wsstream.ReadChannel), pick(o.stdout, wsstream.WriteChannel),
		pick(o.stderr, wsstream.WriteChannel), wsstream.WriteChannel, wsstream.ReadChannel}
}

// openWebSocketSession accepts the channel protocols: "" and
// channel.k8s.io (binary), base64.channel.k8s.io (text), their v4 forms
// (JSON status), and v5.channel.k8s.io (JSON status, half-close signal).
func (s *StreamServer) openWebSocketSession(w http.ResponseWriter, r *http.Request, o execOptions) (*session, bool) {
	ch := webSocketChannels(o)
	bin := wsstream.ChannelProtocolConfig{Binary: true, Channels: ch}
	b64 := wsstream.ChannelProtocolConfig{Binary: false, Channels: ch}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"": bin, wsstream.ChannelWebSocketProtocol: bin, wsstream.Base64ChannelWebSocketProtocol: b64,
		rc.StreamProtocolV4Name: bin, "v4." + wsstream.Base64ChannelWebSocketProtocol: b64,
		rc.StreamProtocolV5Name: bin,
	})
	conn.SetIdleTimeout(streamIdleTimeout)
	protocol, chans, err := conn.Open(w, r)
	if err != nil {
		s.h.log.Debug("websocket upgrade failed", "err", err)
		return nil, false
	}
	ctx, cancel := context.WithCancel(r.Context())
	sess := &session{conn: conn, ctx: ctx, cancel: cancel, writeStatus: v1StatusWriter(chans[rc.StreamErr])}
	if protocol == rc.StreamProtocolV4Name || protocol == rc.StreamProtocolV5Name ||
		protocol == "v4."+wsstream.Base64ChannelWebSocketProtocol {
		sess.writeStatus = v4StatusWriter(chans[rc.StreamErr])
	}
	var resize io.Reader
	if o.tty {
		resize = chans[rc.StreamResize]
	}
	setStreams(sess, o, chans[rc.StreamStdIn], chans[rc.StreamStdOut], chans[rc.StreamStdErr], resize)
	return sess, true
}

// setStreams connects the streams asked for (nil interfaces for the
// others, so the runtime sees them as absent) and starts the resize
// reader.
func setStreams(sess *session, o execOptions, stdin io.Reader, stdout, stderr io.Writer, resize io.Reader) {
	if o.stdin && stdin != nil {
		sess.stdin = stdin
	}
	if o.stdout && stdout != nil {
		sess.stdout = stdout
	}
	if o.stderr && stderr != nil {
		sess.stderr = stderr
	}
	if o.tty && resize != nil {
		sess.resize = make(chan runtime.TerminalSize)
		go handleResizes(sess.ctx, resize, sess.resize)
	}
}
