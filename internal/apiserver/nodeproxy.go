package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/store"
)

// The subresources node agents answer (pods/log, exec, attach, portforward,
// nodes/proxy) and the metrics API are served by calling the agent of the
// pod's node over its HTTPS API, as kube-apiserver calls kubelets:
// validation and container defaulting happen here, then the request goes
// to the agent's /containerLogs, /exec, /attach, /portForward or any path
// (nodes/proxy). Upgrades (SPDY, WebSocket, SPDY tunnelled in WebSocket)
// are proxied as they are: the agent speaks every protocol kubectl does,
// so the API server never parses stream frames. See docs/streaming.md.

// DialNode connects to the HTTPS API of a node's agent at addr
// (host:port from the Node's status) and returns a connection that speaks
// HTTP/1.1 once returned: TLS with the API server's client certificate and
// the agent's verified serving certificate, or an in-memory connection to
// an agent in the same process.
type DialNode func(ctx context.Context, node, addr string) (net.Conn, error)

// kubeletClient reaches node agents.
type kubeletClient struct {
	transport *http.Transport
	metrics   *metricsCache
}

type nodeCtxKey struct{}

func newKubeletClient(dial DialNode) *kubeletClient {
	if dial == nil {
		return nil
	}
	return &kubeletClient{
		transport: &http.Transport{
			DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				node, _ := ctx.Value(nodeCtxKey{}).(string)
				return dial(ctx, node, addr)
			},
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		metrics: newMetricsCache(),
	}
}

// serveNodeProxied dispatches the subresources node agents answer.
func (s *Server) serveNodeProxied(c *call) {
	if s.kubelet == nil {
		c.fail(apierrors.NewServiceUnavailable("the " + c.res.Resource + "/" + c.ri.subresource +
			" subresource is served by node agents, and this server has no way to reach them"))
		return
	}
	switch c.res.Resource + "/" + c.ri.subresource {
	case "pods/log":
		s.servePodLog(c)
	case "pods/exec", "pods/attach":
		s.servePodExec(c)
	case "pods/portforward":
		s.servePodPortForward(c)
	case "nodes/proxy":
		s.serveNodeProxy(c)
	case "pods/proxy":
		s.servePodProxy(c)
	case "services/proxy":
		s.serveServiceProxy(c)
	default:
		c.fail(apierrors.NewServiceUnavailable("the " + c.res.Resource + "/" + c.ri.subresource +
			" subresource is not served by kserver yet; use kubectl port-forward to reach a pod"))
	}
}

// nodeEndpoint is host:port of a node's agent: its first InternalIP
// (then ExternalIP, then Hostname, as k3s prefers them) and
// daemonEndpoints.kubeletEndpoint.port.
func (s *Server) nodeEndpoint(ctx context.Context, name string) (string, error) {
	o, err := s.getStored(ctx, gvr("", "v1", "nodes"), "", name)
	if errors.Is(err, store.ErrNotFound) {
		return "", apierrors.NewNotFound(gr("", "nodes"), name)
	}
	if err != nil {
		return "", err
	}
	node, ok := o.(*corev1.Node)
	if !ok {
		return "", fmt.Errorf("node %s: unexpected object %T", name, o)
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port == 0 {
		port = 10250
	}
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return net.JoinHostPort(a.Address, strconv.Itoa(int(port))), nil
			}
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("no preferred addresses found; known addresses: %v", node.Status.Addresses))
}

// podFor reads the pod a pods/* subresource names.
func (s *Server) podFor(c *call) (*corev1.Pod, bool) {
	o, err := s.getStored(c.ctx, gvr("", "v1", "pods"), c.ri.namespace, c.ri.name)
	if err != nil {
		c.fail(err)
		return nil, false
	}
	pod, ok := o.(*corev1.Pod)
	if !ok {
		c.fail(fmt.Errorf("pod %s: unexpected object %T", c.ri.name, o))
		return nil, false
	}
	return pod, true
}

// agentRequest builds a request to a node's agent carrying the node name
// for the dialer.
func (s *Server) agentRequest(ctx context.Context, method, node, path string, q url.Values) (*http.Request, error) {
	addr, err := s.nodeEndpoint(ctx, node)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: "https", Host: addr, Path: path, RawQuery: q.Encode()}
	return http.NewRequestWithContext(context.WithValue(ctx, nodeCtxKey{}, node), method, u.String(), nil)
}

// agentError turns an agent's error answer into the Status upstream's
// response checker makes of a kubelet's: 400 keeps the agent's message as
// a BadRequest, 500 becomes an InternalError, others the generic status of
// their code.
func agentError(resp *http.Response, gr schema.GroupResource, name string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	msg := strings.TrimSpace(string(b))
	switch resp.StatusCode {
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(msg)
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errors.New(msg))
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "", gr, name, msg, 0, false)
}

// unknownError is a 500 Status without a reason, which kubectl prints as
// "Error from server: <message>" (upstream's ErrorToAPIStatus of a plain
// error, e.g. a node that cannot be dialled).
func unknownError(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure,
		Code: http.StatusInternalServerError, Message: msg}}
}
