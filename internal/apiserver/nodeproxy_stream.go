package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// servePodExec is pods/exec and pods/attach: GET (WebSocket) or POST
// (SPDY) upgraded and proxied to /exec|/attach/{ns}/{pod}/{container}.
func (s *Server) servePodExec(c *call) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodPost {
		c.fail(methodNotAllowed(c.ri.verb, c.gr))
		return
	}
	pod, ok := s.podFor(c)
	if !ok {
		return
	}
	q := c.r.URL.Query()
	container, err := streamContainer(pod, q.Get("container"))
	if err != nil {
		c.fail(err)
		return
	}
	if pod.Spec.NodeName == "" {
		c.fail(badRequest("pod %s does not have a host assigned", pod.Name))
		return
	}
	agentQ := url.Values{}
	if c.ri.subresource == "exec" {
		agentQ[corev1.ExecCommandParam] = q[corev1.ExecCommandParam]
	}
	for param, kubelet := range map[string]string{"stdin": corev1.ExecStdinParam, "stdout": corev1.ExecStdoutParam,
		"stderr": corev1.ExecStderrParam, "tty": corev1.ExecTTYParam} {
		if isTrue(q.Get(param)) {
			agentQ.Set(kubelet, "1")
		}
	}
	path := "/" + c.ri.subresource + "/" + pod.Namespace + "/" + pod.Name + "/" + container
	s.proxyToAgent(c, pod.Spec.NodeName, path, agentQ.Encode(), "error dialing backend")
}

// servePodPortForward is pods/portforward, proxied to
// /portForward/{ns}/{pod} (?ports=… becomes ?port=…).
func (s *Server) servePodPortForward(c *call) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodPost {
		c.fail(methodNotAllowed(c.ri.verb, c.gr))
		return
	}
	pod, ok := s.podFor(c)
	if !ok {
		return
	}
	if pod.Spec.NodeName == "" {
		c.fail(badRequest("pod %s does not have a host assigned", pod.Name))
		return
	}
	agentQ := url.Values{}
	for _, v := range c.r.URL.Query()["ports"] {
		for _, p := range strings.Split(v, ",") {
			if n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16); err != nil || n == 0 {
				c.fail(apierrors.NewInvalid(schema.GroupKind{Kind: "PodPortForwardOptions"}, pod.Name, field.ErrorList{
					field.Invalid(field.NewPath("ports"), p, "must be a port number between 1 and 65535")}))
				return
			}
			agentQ.Add("port", strings.TrimSpace(p))
		}
	}
	s.proxyToAgent(c, pod.Spec.NodeName, "/portForward/"+pod.Namespace+"/"+pod.Name, agentQ.Encode(), "error dialing backend")
}

// serveNodeProxy is nodes/{name}/proxy/{path}: any method, any agent path.
func (s *Server) serveNodeProxy(c *call) {
	prefix := "/" + c.ri.name + "/proxy"
	i := strings.Index(c.r.URL.Path, prefix)
	if i < 0 {
		c.fail(notFoundPath())
		return
	}
	path := c.r.URL.Path[i+len(prefix):]
	if path == "" {
		path = "/"
	}
	s.proxyToAgent(c, c.ri.name, path, c.r.URL.RawQuery, "error trying to reach service")
}

// proxyToAgent proxies the request, upgrades included, to path on the
// node's agent. The client's credentials stay here; the agent sees the
// API server's identity. A WebSocket remote-command client whose upgrade
// the agent refused gets the failure as a Status on its error channel, as
// upstream's stream translator reports it.
func (s *Server) proxyToAgent(c *call, node, path, rawQuery, dialMsg string) {
	addr, err := s.nodeEndpoint(c.ctx, node)
	if err != nil {
		c.fail(err)
		return
	}
	target := &url.URL{Scheme: "https", Host: addr, Path: path, RawQuery: rawQuery}
	channelWS := wsstream.IsWebSocketRequest(c.r) && !wsstream.IsWebSocketRequestWithTunnelingProtocol(c.r)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), nodeCtxKey{}, node))
			pr.Out.URL, pr.Out.Host = target, ""
			for k := range pr.Out.Header {
				if k == "Authorization" || strings.HasPrefix(k, "Impersonate-") {
					pr.Out.Header.Del(k)
				}
			}
		},
		Transport:     s.kubelet.transport,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if channelWS && resp.StatusCode != http.StatusSwitchingProtocols {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
				return &agentRefused{msg: strings.TrimSpace(string(b))}
			}
			if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
				resp.Body = tailKeeper{rwc} // linger.go
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var refused *agentRefused
			switch {
			case errors.As(err, &refused):
				failWebSocket(w, r, "unable to upgrade connection: "+refused.msg)
			case r.Context().Err() != nil:
			case channelWS:
				failWebSocket(w, r, dialMsg+": "+err.Error())
			default:
				writeStatus(w, errorStatus(unknownError(dialMsg+": "+err.Error()), c.gr, c.ri.name))
			}
		},
	}
	rp.ServeHTTP(lingeringWriter{c.w}, c.r)
}

// agentRefused is an agent's non-101 answer to a WebSocket upgrade.
type agentRefused struct{ msg string }

func (e *agentRefused) Error() string { return e.msg }

// failWebSocket upgrades a remote-command WebSocket only to report msg as
// an InternalError Status on the error channel (3) and close, which
// kubectl prints as "error: Internal error occurred: <msg>".
func failWebSocket(w http.ResponseWriter, r *http.Request, msg string) {
	ch := []wsstream.ChannelType{wsstream.IgnoreChannel, wsstream.IgnoreChannel, wsstream.IgnoreChannel,
		wsstream.WriteChannel, wsstream.IgnoreChannel}
	bin := wsstream.ChannelProtocolConfig{Binary: true, Channels: ch}
	b64 := wsstream.ChannelProtocolConfig{Binary: false, Channels: ch}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"": bin, "channel.k8s.io": bin, "base64.channel.k8s.io": b64, "v4.channel.k8s.io": bin,
		"v4.base64.channel.k8s.io": b64, "v5.channel.k8s.io": bin,
	})
	r = r.WithContext(klog.NewContext(r.Context(), logr.Discard())) // its socket errors are not ours to report
	protocol, chans, err := conn.Open(w, r)
	if err != nil {
		return
	}
	defer conn.Close()
	st := apierrors.NewInternalError(errors.New(msg)).ErrStatus
	if !strings.HasPrefix(protocol, "v4.") && !strings.HasPrefix(protocol, "v5.") {
		_, _ = io.WriteString(chans[3], st.Message)
		return
	}
	b, _ := json.Marshal(&st)
	_, _ = chans[3].Write(b)
}

// streamContainer picks the container of an exec/attach as upstream's
// streamLocation does: the only one, or the one named, which must exist.
func streamContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", badRequest("a container name must be specified for pod %s", pod.Name)
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]",
			pod.Name, strings.Join(containerNames(pod.Spec.Containers), " "))
		if len(pod.Spec.InitContainers) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: [%s]", strings.Join(containerNames(pod.Spec.InitContainers), " "))
		}
		return "", apierrors.NewBadRequest(msg)
	}
	if !podHasContainer(pod, name) {
		return "", badRequest("container %s is not valid for pod %s", name, pod.Name)
	}
	return name, nil
}

func containerNames(cs []corev1.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// podHasContainer: app, init or ephemeral container of that name.
func podHasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}
