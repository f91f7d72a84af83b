package apiserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// podProxyErrorHeader marks an answer the agent wrote itself (it could not
// reach the pod) rather than the pod's own; the agent's
// internal/agent/stream_podproxy.go sets it.
const podProxyErrorHeader = "X-Kserver-Pod-Proxy-Error"

// podProxyFailed is the agent's own error answer to a /podProxy request.
type podProxyFailed struct{ msg string }

func (e *podProxyFailed) Error() string { return e.msg }

// proxyToPod proxies the request — any method, body, query, upgrades —
// to the target through the agent of its node:
// /podProxy/{ns}/{pod}/{scheme}/{ip}/{port}{path}. A request for
// …/proxy without a trailing slash is redirected to …/proxy/ first, as
// upstream does, so that relative links of the page resolve below it.
// Redirects the pod answers to one of its own absolute paths are rewritten
// to stay below …/proxy.
func (s *Server) proxyToPod(c *call, t podTarget) {
	prefix, rest, ok := proxySubpath(c.r, c.res.Resource)
	if !ok {
		c.fail(notFoundPath())
		return
	}
	if rest == "" {
		loc := prefix + "/"
		if c.r.URL.RawQuery != "" {
			loc += "?" + c.r.URL.RawQuery
		}
		c.w.Header().Set("Location", loc)
		c.w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	addr, err := s.nodeEndpoint(c.ctx, t.node)
	if err != nil {
		c.fail(err)
		return
	}
	agentPath := "/podProxy/" + url.PathEscape(t.namespace) + "/" + url.PathEscape(t.pod) + "/" + t.scheme + "/" +
		url.PathEscape(t.ip) + "/" + strconv.Itoa(t.port) + rest
	target, err := url.Parse("https://" + addr + agentPath)
	if err != nil {
		c.fail(badRequest("invalid proxy path %q: %v", rest, err))
		return
	}
	target.RawQuery = c.r.URL.RawQuery
	backend := net.JoinHostPort(t.ip, strconv.Itoa(t.port))
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), nodeCtxKey{}, t.node))
			pr.Out.URL, pr.Out.Host = target, ""
			for k := range pr.Out.Header {
				if k == "Authorization" || strings.HasPrefix(k, "Impersonate-") {
					pr.Out.Header.Del(k)
				}
			}
			pr.SetXForwarded()
		},
		Transport:     s.kubelet.transport,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Header.Get(podProxyErrorHeader) != "" {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
				return &podProxyFailed{msg: strings.TrimSpace(string(b))}
			}
			if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
				resp.Header.Set("Location", rewriteLocation(loc, prefix, backend))
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var failed *podProxyFailed
			switch {
			case errors.As(err, &failed):
				writeStatus(w, errorStatus(apierrors.NewServiceUnavailable(failed.msg), c.gr, c.ri.name))
			case r.Context().Err() != nil:
			default:
				writeStatus(w, errorStatus(apierrors.NewServiceUnavailable("error trying to reach service: "+err.Error()), c.gr, c.ri.name))
			}
		},
	}
	rp.ServeHTTP(c.w, c.r)
}

// rewriteLocation keeps a redirect of the pod below the proxy path: an
// absolute path, or a URL naming the backend itself, becomes
// prefix+path; other locations (relative, other hosts) stay as they are.
func rewriteLocation(loc, prefix, backend string) string {
	u, err := url.Parse(loc)
	if err != nil || (u.Host != "" && u.Host != backend) || !strings.HasPrefix(u.EscapedPath(), "/") {
		return loc
	}
	if strings.HasPrefix(u.EscapedPath(), prefix+"/") {
		return loc
	}
	out := &url.URL{RawQuery: u.RawQuery, Fragment: u.Fragment}
	p, err := url.PathUnescape(prefix + u.EscapedPath())
	if err != nil {
		return loc
	}
	out.Path, out.RawPath = p, prefix+u.EscapedPath()
	return out.String()
}
