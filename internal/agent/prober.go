package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/version"
)

// ProbeTarget is the container a probe or hook acts on and where its
// network is.
type ProbeTarget struct {
	Pod         *corev1.Pod
	Container   *corev1.Container
	ContainerID string
	// NetNS is the path of the pod's network namespace, where httpGet,
	// tcpSocket and grpc connections are made from; "" is the agent's own
	// (hostNetwork pods).
	NetNS string
	// PodIP is the default host of httpGet, tcpSocket and grpc.
	PodIP netip.Addr
}

// HostProber runs probes and lifecycle hooks of real containers: exec
// through the runtime, httpGet, tcpSocket and grpc over sockets opened in
// the pod's network namespace (so they work whatever the node's routes),
// with the kubelet's results and messages.
type HostProber struct {
	rt runtime.Runtime
}

// NewHostProber probes containers of rt.
func NewHostProber(rt runtime.Runtime) *HostProber { return &HostProber{rt: rt} }

var _ ProbeRunner = (*HostProber)(nil)

// maxProbeBody is how much of a response the kubelet reads (10 KiB).
const maxProbeBody = 10 << 10

// Probe runs one probe; ok false comes with the kubelet's failure text.
// A warning (an HTTP redirect to another host) passes with warning set.
func (p *HostProber) Probe(ctx context.Context, t ProbeTarget, pr *corev1.Probe, timeout time.Duration) (ProbeResult, error) {
	h := pr.ProbeHandler
	switch {
	case h.Exec != nil:
		return p.exec(ctx, t, h.Exec.Command, timeout)
	case h.HTTPGet != nil:
		return p.httpGet(ctx, t, h.HTTPGet, timeout, true)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = t.PodIP.String()
		}
		port, err := resolvePort(h.TCPSocket.Port, t.Container)
		if err != nil {
			return ProbeResult{}, err
		}
		conn, err := dialIn(ctx, t.NetNS, net.JoinHostPort(host, strconv.Itoa(port)), timeout)
		if err != nil {
			return ProbeResult{Output: err.Error()}, nil
		}
		_ = conn.Close()
		return ProbeResult{OK: true}, nil
	case h.GRPC != nil:
		return p.grpc(ctx, t, h.GRPC, timeout)
	}
	return ProbeResult{}, errors.New("probe has no handler")
}

// ProbeResult is one probe's outcome.
type ProbeResult struct {
	OK      bool
	Warning bool   // passed, but with something to report (ProbeWarning)
	Output  string // failure text, or the warning
}

func (p *HostProber) exec(ctx context.Context, t ProbeTarget, cmd []string, timeout time.Duration) (ProbeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out bytes.Buffer
	w := &limitedWriter{w: &out, n: maxProbeBody}
	code, err := p.rt.Exec(ctx, t.ContainerID, runtime.ExecOptions{Command: cmd, Stdout: w, Stderr: w})
	if ctx.Err() == context.DeadlineExceeded {
		return ProbeResult{Output: fmt.Sprintf("command %q timed out", strings.Join(cmd, " "))}, nil
	}
	if err != nil {
		return ProbeResult{}, err
	}
	return ProbeResult{OK: code == 0, Output: out.String()}, nil
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n <= 0 {
		return len(b), nil
	}
	k := min(len(b), l.n)
	l.n -= k
	_, _ = l.w.Write(b[:k])
	return len(b), nil
}

// httpGet is an HTTP probe (or, with probe false, a hook: any error is a
// failure, redirects are followed).
func (p *HostProber) httpGet(ctx context.Context, t ProbeTarget, g *corev1.HTTPGetAction, timeout time.Duration, probe bool) (ProbeResult, error) {
	u, err := probeURL(t, g)
	if err != nil {
		return ProbeResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return ProbeResult{}, err
	}
	v := version.Kubernetes
	if parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3); len(parts) >= 2 {
		v = parts[0] + "." + parts[1]
	}
	req.Header.Set("User-Agent", "kube-probe/"+v)
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialIn(ctx, t.NetNS, addr, timeout)
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes do not verify, as the kubelet's
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: redirectPolicy(u.Hostname())}
	res, err := client.Do(req)
	if err != nil {
		return ProbeResult{Output: err.Error()}, nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxProbeBody))
	if res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusBadRequest {
		if res.StatusCode >= http.StatusMultipleChoices && probe {
			return ProbeResult{OK: true, Warning: true, Output: fmt.Sprintf("Probe terminated redirects, Response body: %s", body)}, nil
		}
		return ProbeResult{OK: true, Output: string(body)}, nil
	}
	return ProbeResult{Output: fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode)}, nil
}

// redirectPolicy follows redirects to the same host only (at most 10), as
// the kubelet's prober.
func redirectPolicy(host string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if req.URL.Hostname() != host {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

func probeURL(t ProbeTarget, g *corev1.HTTPGetAction) (*url.URL, error) {
	host := g.Host
	if host == "" {
		host = t.PodIP.String()
	}
	port, err := resolvePort(g.Port, t.Container)
	if err != nil {
		return nil, err
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	u, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = scheme, net.JoinHostPort(host, strconv.Itoa(port))
	return u, nil
}

// resolvePort turns a port number or a container port's name into a
// number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %v", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil && n > 0 && n < 65536 {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, c.Name)
}

// dialIn opens a TCP connection from inside a network namespace ("" is
// the agent's own); the socket stays in the namespace it was made in.
func dialIn(ctx context.Context, nsPath, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if nsPath == "" {
		return d.DialContext(ctx, "tcp", addr)
	}
	ns, err := netns.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	var conn net.Conn
	err = ns.Do(func() error {
		var err error
		conn, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return conn, err
}
