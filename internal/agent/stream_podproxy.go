package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// /podProxy/{ns}/{pod}/{scheme}/{ip}/{port}/{path} is how the API server
// serves pods/proxy and services/proxy (internal/apiserver/proxy_*.go):
// the agent dials ip:port from the node's network namespace — where the
// pod network is routed — and proxies the request to it, any method,
// upgrades included. The ip must be one of the pod's addresses, so the
// endpoint reaches only pods of this node. Errors of the agent itself
// (unknown pod, dial failure) carry podProxyErrorHeader so that the API
// server can tell them from the pod's own answers.

// podProxyErrorHeader marks the agent's own error answers; the API
// server's internal/apiserver/proxy_backend.go reads it.
const podProxyErrorHeader = "X-Kserver-Pod-Proxy-Error"

// podProxyDialTimeout bounds the connection to the pod (upstream's
// proxy dialer uses 30 s).
const podProxyDialTimeout = 30 * time.Second

// podProxy serves /podProxy/.
type podProxy struct {
	h         streamHost
	transport *http.Transport
}

func newPodProxy(h streamHost) *podProxy {
	p := &podProxy{h: h}
	p.transport = &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialIn(ctx, h.netns, addr, podProxyDialTimeout)
		},
		// Pods serve self-signed certificates; upstream's proxy transport
		// does not verify them either.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return p
}

// podProxyTarget is a parsed /podProxy path.
type podProxyTarget struct {
	ns, pod, scheme, ip string
	port                int
	rawPath             string // escaped, starts with "/"
}

func parsePodProxyPath(escaped string) (podProxyTarget, error) {
	rest, ok := strings.CutPrefix(escaped, "/podProxy/")
	if !ok {
		return podProxyTarget{}, errors.New("not a pod proxy path")
	}
	parts := strings.SplitN(rest, "/", 6)
	if len(parts) < 5 {
		return podProxyTarget{}, errors.New("want /podProxy/{namespace}/{pod}/{scheme}/{ip}/{port}/{path}")
	}
	var t podProxyTarget
	for i, dst := range []*string{&t.ns, &t.pod, &t.scheme, &t.ip} {
		v, err := url.PathUnescape(parts[i])
		if err != nil {
			return podProxyTarget{}, fmt.Errorf("path segment %q: %w", parts[i], err)
		}
		*dst = v
	}
	if t.scheme != "http" && t.scheme != "https" {
		return podProxyTarget{}, fmt.Errorf("scheme %q is not http or https", t.scheme)
	}
	n, err := strconv.ParseUint(parts[4], 10, 16)
	if err != nil || n == 0 {
		return podProxyTarget{}, fmt.Errorf("port %q is not a port number", parts[4])
	}
	t.port = int(n)
	t.rawPath = "/"
	if len(parts) == 6 {
		t.rawPath += parts[5]
	}
	return t, nil
}

func (p *podProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, err := parsePodProxyPath(r.URL.EscapedPath())
	if err != nil {
		podProxyError(w, http.StatusBadRequest, err.Error())
		return
	}
	pod, ok := p.h.pod(t.ns, t.pod)
	if !ok {
		podProxyError(w, http.StatusNotFound, fmt.Sprintf("pod %s/%s is not on node %s", t.ns, t.pod, p.h.node))
		return
	}
	if !hasPodIP(pod, t.ip) {
		podProxyError(w, http.StatusBadRequest, fmt.Sprintf("%s is not an address of pod %s/%s", t.ip, t.ns, t.pod))
		return
	}
	addr := net.JoinHostPort(t.ip, strconv.Itoa(t.port))
	if p.h.simulated {
		podProxyError(w, http.StatusServiceUnavailable, fmt.Sprintf(
			"error trying to reach service: dial tcp %s: node %s is simulated, its pods have no network", addr, p.h.node))
		return
	}
	path, err := url.PathUnescape(t.rawPath)
	if err != nil {
		podProxyError(w, http.StatusBadRequest, err.Error())
		return
	}
	target := &url.URL{Scheme: t.scheme, Host: addr, Path: path, RawPath: t.rawPath, RawQuery: r.URL.RawQuery}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL, pr.Out.Host = target, ""
			for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v := pr.In.Header.Values(k); len(v) > 0 {
					pr.Out.Header[k] = v
				}
			}
		},
		Transport:     p.transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return
			}
			podProxyError(w, http.StatusServiceUnavailable, "error trying to reach service: "+dialMessage(err))
		},
	}
	rp.ServeHTTP(w, r)
}

// dialMessage drops the Go HTTP client's wrapping of a dial error
// ("dial tcp 10.42.0.5:81: connect: connection refused" stays).
func dialMessage(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	return err.Error()
}

func hasPodIP(pod *corev1.Pod, ip string) bool {
	if pod.Status.PodIP == ip {
		return ip != ""
	}
	for _, a := range pod.Status.PodIPs {
		if a.IP == ip {
			return true
		}
	}
	return false
}

func podProxyError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set(podProxyErrorHeader, "true")
	plainError(w, code, msg)
}
