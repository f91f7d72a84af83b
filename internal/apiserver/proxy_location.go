package apiserver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"kserver.dev/kserver/internal/store"
)

// pods/{[scheme:]name[:port]}/proxy/{path} and
// services/{[scheme:]name[:port]}/proxy/{path}: upstream's API server dials
// the pod IP (or a ready endpoint of the service) itself. Ours never does —
// pod networks live in the nodes' network namespaces, which the API server
// process may not share — and asks the agent of the pod's node to dial it
// instead (the agent's /podProxy, internal/agent/stream_podproxy.go). This
// file finds the target as upstream's resource location functions do;
// proxy_backend.go proxies. See docs/streaming.md.

// podTarget is where a pods/proxy or services/proxy request goes: a port
// on one pod, reached through the agent of the pod's node.
type podTarget struct {
	node, namespace, pod string
	scheme               string // http or https
	ip                   string
	port                 int
}

// servePodProxy is pods/{name}/proxy.
func (s *Server) servePodProxy(c *call) {
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(c.ri.name)
	if !ok {
		c.fail(badRequest("invalid pod request %q", c.ri.name))
		return
	}
	t, err := s.podLocation(c, scheme, name, port)
	if err != nil {
		c.fail(err)
		return
	}
	s.proxyToPod(c, t)
}

// serveServiceProxy is services/{name}/proxy.
func (s *Server) serveServiceProxy(c *call) {
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(c.ri.name)
	if !ok {
		c.fail(badRequest("invalid service request %q", c.ri.name))
		return
	}
	t, err := s.serviceLocation(c, scheme, name, port)
	if err != nil {
		c.fail(err)
		return
	}
	s.proxyToPod(c, t)
}

// podLocation is the pod's IP and the port named (a number or the name
// of a container port), else the first declared container port, else the
// scheme's default port, as upstream.
func (s *Server) podLocation(c *call, scheme, name, port string) (podTarget, error) {
	pod, err := s.proxyPod(c, c.ri.namespace, name)
	if err != nil {
		return podTarget{}, err
	}
	t := podTarget{node: pod.Spec.NodeName, namespace: pod.Namespace, pod: pod.Name, scheme: scheme}
	if t.scheme == "" {
		t.scheme = "http"
	}
	if t.port, err = podPort(pod, port, t.scheme); err != nil {
		return podTarget{}, err
	}
	if pod.Spec.NodeName == "" {
		return podTarget{}, apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	if t.ip = podIP(pod); t.ip == "" {
		return podTarget{}, apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s has no IP address yet", pod.Name))
	}
	return t, nil
}

// proxyPod reads a pod; a missing one is pods "name" not found.
func (s *Server) proxyPod(c *call, ns, name string) (*corev1.Pod, error) {
	o, err := s.getStored(c.ctx, gvr("", "v1", "pods"), ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierrors.NewNotFound(gr("", "pods"), name)
	}
	if err != nil {
		return nil, err
	}
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("pod %s: unexpected object %T", name, o)
	}
	return pod, nil
}

func podPort(pod *corev1.Pod, port, scheme string) (int, error) {
	if port == "" {
		for _, ct := range pod.Spec.Containers {
			if len(ct.Ports) > 0 {
				return int(ct.Ports[0].ContainerPort), nil
			}
		}
		if scheme == "https" {
			return 443, nil
		}
		return 80, nil
	}
	if n, err := strconv.ParseUint(port, 10, 16); err == nil && n > 0 {
		return int(n), nil
	}
	for _, ct := range pod.Spec.Containers {
		for _, p := range ct.Ports {
			if p.Name != "" && p.Name == port {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, badRequest("invalid pod request %q: %q is neither a port number nor the name of a container port of pod %s",
		pod.Name+":"+port, port, pod.Name)
}

func podIP(pod *corev1.Pod) string {
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return pod.Status.PodIP
}

// serviceLocation picks a ready endpoint at random among the service's
// EndpointSlices for the port named: by port name, a number being first
// translated to the name of the service port with that number, as
// upstream. Only endpoints that are pods can be reached (through their
// node's agent).
func (s *Server) serviceLocation(c *call, scheme, name, port string) (podTarget, error) {
	o, err := s.getStored(c.ctx, gvr("", "v1", "services"), c.ri.namespace, name)
	if errors.Is(err, store.ErrNotFound) {
		return podTarget{}, apierrors.NewNotFound(gr("", "services"), name)
	}
	if err != nil {
		return podTarget{}, err
	}
	svc, ok := o.(*corev1.Service)
	if !ok {
		return podTarget{}, fmt.Errorf("service %s: unexpected object %T", name, o)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return podTarget{}, apierrors.NewServiceUnavailable(fmt.Sprintf(
			"service %q is of type ExternalName: kserver proxies only to pods, reach %s directly", name, svc.Spec.ExternalName))
	}
	if n, err := strconv.Atoi(port); err == nil {
		found := false
		for _, sp := range svc.Spec.Ports {
			if int(sp.Port) == n {
				port, found = sp.Name, true
				break
			}
		}
		if !found {
			return podTarget{}, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, name))
		}
	}
	slices, err := s.listStored(c.ctx, gvr("discovery.k8s.io", "v1", "endpointslices"), c.ri.namespace)
	if err != nil {
		return podTarget{}, err
	}
	cands, others, hasAny := readyPodEndpoints(slices, name, port)
	if len(cands) == 0 {
		// Upstream names the service when it has no endpoint at all, and
		// the whole request name when none has the port.
		msg := fmt.Sprintf("no endpoints available for service %q", c.ri.name)
		if !hasAny {
			msg = fmt.Sprintf("no endpoints available for service %q", name)
		}
		if others > 0 {
			msg += fmt.Sprintf(" (%d ready endpoints are not pods on a node, which kserver cannot reach)", others)
		}
		return podTarget{}, apierrors.NewServiceUnavailable(msg)
	}
	t := cands[rand.IntN(len(cands))]
	if t.scheme = scheme; t.scheme == "" {
		t.scheme = "http"
	}
	if t.node == "" {
		pod, err := s.proxyPod(c, t.namespace, t.pod)
		if err != nil || pod.Spec.NodeName == "" {
			return podTarget{}, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", c.ri.name))
		}
		t.node = pod.Spec.NodeName
	}
	return t, nil
}

// readyPodEndpoints are the ready pod endpoints of the service's slices
// for the port of that name; others counts ready endpoints that are not
// pods; hasAny says whether the service has endpoints at all.
func readyPodEndpoints(slices []runtime.Object, service, port string) (out []podTarget, others int, hasAny bool) {
	for _, o := range slices {
		sl, ok := o.(*discoveryv1.EndpointSlice)
		if !ok || sl.Labels[discoveryv1.LabelServiceName] != service {
			continue
		}
		hasAny = hasAny || len(sl.Endpoints) > 0
		for _, sp := range sl.Ports {
			if sp.Port == nil || deref(sp.Name) != port {
				continue
			}
			for _, ep := range sl.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
					continue
				}
				if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" {
					others++
					continue
				}
				ns := ep.TargetRef.Namespace
				if ns == "" {
					ns = sl.Namespace
				}
				out = append(out, podTarget{node: deref(ep.NodeName), namespace: ns, pod: ep.TargetRef.Name,
					ip: ep.Addresses[0], port: int(*sp.Port)})
			}
		}
	}
	return out, others, hasAny
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// proxySubpath splits the request's escaped path at …/{resource}/{name}/proxy:
// prefix is everything up to and including "proxy", rest what follows
// ("" when nothing does, "/" for a trailing slash).
func proxySubpath(r *http.Request, resource string) (prefix, rest string, ok bool) {
	p := r.URL.EscapedPath()
	segs := strings.Split(p, "/")
	for i := 0; i+2 < len(segs); i++ {
		if segs[i] == resource && segs[i+2] == "proxy" {
			prefix = strings.Join(segs[:i+3], "/")
			return prefix, p[len(prefix):], true
		}
	}
	return "", "", false
}
