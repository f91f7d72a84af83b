package apiserver

import (
	corev1 "k8s.io/api/core/v1"
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"

	"kserver.dev/kserver/internal/store"
)

// serveSubresource dispatches …/<name>/<subresource>.
func (s *Server) serveSubresource(c *call) {
	sub, ok := c.res.Subresource(c.ri.subresource)
	if !ok || c.ri.name == "" {
		c.fail(notFoundPath())
		return
	}
	if !c.checkScope() {
		return
	}
	verb := c.ri.verb
	if verb == "list" || verb == "watch" {
		verb = "get"
	}
	if c.ri.subresource == "log" || c.ri.subresource == "proxy" || c.ri.subresource == "exec" ||
		c.ri.subresource == "attach" || c.ri.subresource == "portforward" {
		s.serveNodeProxied(c)
		return
	}
	if !contains(sub.Verbs, verb) {
		c.fail(methodNotAllowed(verb, c.gr))
		return
	}
	c.ri.verb = verb
	// status and scale are printed as Tables (kubectl get
	// --subresource=status|scale) and offer partial metadata, as upstream.
	printable := verb == "get" && (c.ri.subresource == "status" || c.ri.subresource == "scale")
	out, err := negotiate(c.r.Header.Get("Accept"), printable)
	if err != nil {
		c.fail(err)
		return
	}
	c.out = out
	switch c.ri.subresource {
	case "status":
		s.serveStatus(c)
	case "scale":
		s.serveScale(c)
	case "binding":
		s.serveBinding(c)
	case "eviction":
		s.serveEviction(c)
	case "token":
		s.serveToken(c)
	default:
		s.serveSameKind(c)
	}
}

// serveStatus is GET/PUT/PATCH of …/status: the same kind as the parent,
// where writes change only what PrepareForStatusUpdate lets through.
func (s *Server) serveStatus(c *call) {
	s.serveSameKind(c)
}

// serveSameKind serves a subresource that speaks the parent's own kind
// (status, ephemeralcontainers, resize, finalize).
func (s *Server) serveSameKind(c *call) {
	switch c.ri.verb {
	case "get":
		s.get(c)
	case "update":
		o, err := c.writeOptions("UpdateOptions")
		if err != nil {
			c.fail(err)
			return
		}
		o.put = c.ri.subresource != "finalize"
		in, err := c.decodeRequest(o, c.res.GroupVersionKind())
		if err != nil {
			c.fail(err)
			return
		}
		obj, err := c.toStorage(in)
		if err == nil {
			err = c.checkURLNamespace(obj)
		}
		if err != nil {
			c.fail(err)
			return
		}
		kv, out, _, err := c.updateObject(c.ctx, o, c.strategySub(), func(cur runtime.Object) (runtime.Object, error) {
			if c.ri.subresource == "finalize" {
				return finalizeNamespace(obj, cur)
			}
			return obj.DeepCopyObject(), nil
		})
		c.respondWrite(kv, out, o.dryRun, err)
	case "patch":
		kv, out, _, o, err := c.patchObject(c.strategySub())
		c.respondWrite(kv, out, o.dryRun, err)
	default:
		c.fail(methodNotAllowed(c.ri.verb, c.gr))
	}
}

// finalizeNamespace is PUT namespaces/<name>/finalize: only
// spec.finalizers changes (the namespace controller removes "kubernetes"
// once the content is gone).
func finalizeNamespace(in, cur runtime.Object) (runtime.Object, error) {
	want, ok1 := in.(*corev1.Namespace)
	ns, ok2 := cur.(*corev1.Namespace)
	if !ok1 || !ok2 {
		return nil, badRequest("finalize takes a Namespace")
	}
	ns.Spec.Finalizers = want.Spec.Finalizers
	if want.ResourceVersion != "" {
		ns.ResourceVersion = want.ResourceVersion
	} else {
		ns.ResourceVersion = ""
	}
	return ns, nil
}

// strategySub is the strategy hook a same-kind subresource uses: status
// for status, the main resource's update rules otherwise.
func (c *call) strategySub() string {
	switch c.ri.subresource {
	case "status":
		return "status"
	case "finalize":
		return "finalize"
	case "ephemeralcontainers":
		return "ephemeralcontainers" // ephemeral.go
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// respondWrite answers a write of a subresource or main resource.
func (c *call) respondWrite(kv store.KeyValue, out runtime.Object, dryRun bool, err error) {
	if err != nil {
		c.fail(err)
		return
	}
	if dryRun || kv.Key == "" {
		c.respondObject(out, http.StatusOK)
		return
	}
	c.respondStored(kv, http.StatusOK)
}
