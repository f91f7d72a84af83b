package apiserver

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// lingerTimeout bounds how long a closed upgraded connection keeps reading
// what the client still sends.
const lingerTimeout = 2 * time.Second

// lingeringWriter hands out hijacked connections whose Close lingers: the
// client may still be sending (stdin it typed, its answer to our WebSocket
// close frame) when the node's side of an exec or attach ends. Closing a
// TCP socket with unread bytes makes the kernel send a reset, and a reset
// makes the client's kernel drop what it had not read yet — the exit status
// and the close frame — so kubectl reported "close 1006 (abnormal
// closure)" instead of the command's exit code. Reading until the client
// closes (or lingerTimeout) before closing avoids the reset.
type lingeringWriter struct {
	http.ResponseWriter
}

func (w lingeringWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w lingeringWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w lingeringWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &lingeringConn{Conn: conn}, brw, nil
}

type lingeringConn struct {
	net.Conn
	once sync.Once
}

// Close stops writing (a TLS close_notify, or a TCP
// half-close) and closes once the client has closed its side or after
// lingerTimeout, in the background so the caller never waits.
func (c *lingeringConn) Close() error {
	c.once.Do(func() {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		if err := c.Conn.SetReadDeadline(time.Now().Add(lingerTimeout)); err != nil {
			_ = c.Conn.Close()
			return
		}
		go func() {
			_, _ = io.Copy(io.Discard, c.Conn)
			_ = c.Conn.Close()
		}()
	})
	return nil
}

// tailKeeper is the agent's side of an upgraded connection. The proxy
// stops copying both ways at the first error of either, so a client
// still sending stdin after the command ended (the agent closed its side)
// made it stop before the agent's last bytes — the exit status and the
// close frame — had reached the client. Writes after the agent closed are
// dropped instead, and the copy ends when the agent's side is read to its
// end.
type tailKeeper struct{ io.ReadWriteCloser }

func (t tailKeeper) Write(p []byte) (int, error) {
	_, _ = t.ReadWriteCloser.Write(p) // an error means the agent is done
	return len(p), nil
}
