package apiserver

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/store"
)

// maxBodyBytes is upstream's request body limit (3 MiB).
const maxBodyBytes = 3 * 1024 * 1024

// call is one request to a resource path, with everything its handler
// needs.
type call struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	ri  requestInfo
	res *registry.Resource
	gr  schema.GroupResource // qualified resource for messages
	out output
	// warnings are sent as "Warning: 299" headers before the body.
	warnings []string
	// current is the stored value a read-modify-write is working on
	// (updateObject sets it before calling its mutate function).
	current store.KeyValue
}

func (c *call) fail(err error) {
	c.flushWarnings()
	writeError(c.w, err, c.gr, c.ri.name)
}

func (c *call) warn(msg string) { c.warnings = append(c.warnings, msg) }

// flushWarnings writes the collected warnings as headers (deduplicated,
// each capped like upstream).
func (c *call) flushWarnings() {
	seen := map[string]bool{}
	for _, msg := range c.warnings {
		if seen[msg] {
			continue
		}
		seen[msg] = true
		if len(msg) > 256 {
			msg = msg[:253] + "..."
		}
		c.w.Header().Add("Warning", `299 - "`+escapeWarning(msg)+`"`)
	}
	c.warnings = nil
}

func escapeWarning(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, ri requestInfo, res *registry.Resource) {
	c := &call{s: s, w: w, r: r, ctx: r.Context(), ri: ri, res: res, gr: qualified(res)}
	if res.DeprecationWarning != "" {
		// Upstream's deprecated-API filter warns on every request to the
		// version, whatever the verb or outcome.
		c.warn(res.DeprecationWarning)
	}
	if ri.subresource != "" {
		s.serveSubresource(c)
		return
	}
	if !c.checkScope() {
		return
	}
	if !res.HasVerb(ri.verb) {
		c.fail(methodNotAllowed(ri.verb, c.gr))
		return
	}
	allowAs := ri.verb == "get" || ri.verb == "list" || ri.verb == "watch"
	out, err := negotiate(r.Header.Get("Accept"), allowAs)
	if err != nil {
		c.fail(err)
		return
	}
	c.out = out
	if t := queryValue(r, "timeout"); t != "" && ri.verb != "watch" {
		if d, err := time.ParseDuration(t); err == nil && d > 0 {
			if d > 60*time.Second {
				d = 60 * time.Second
			}
			var cancel context.CancelFunc
			c.ctx, cancel = context.WithTimeout(c.ctx, d)
			defer cancel()
		}
	}
	switch ri.verb {
	case "get":
		s.get(c)
	case "list":
		s.list(c)
	case "watch":
		s.watch(c)
	case "create":
		s.create(c)
	case "update":
		s.update(c)
	case "patch":
		s.patch(c)
	case "delete":
		s.delete(c)
	case "deletecollection":
		s.deleteCollection(c)
	default:
		c.fail(methodNotAllowed(ri.verb, c.gr))
	}
}

// queryValue is r's query parameter key, without parsing the query when
// the request has none.
func queryValue(r *http.Request, key string) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get(key)
}

// checkScope refuses namespaced verbs without a namespace and namespaces
// on cluster-scoped resources, as upstream's routes do (404).
func (c *call) checkScope() bool {
	if c.res.Namespaced && c.ri.namespace == "" && !slices.Contains([]string{"list", "watch"}, c.ri.verb) {
		c.fail(notFoundPath())
		return false
	}
	if !c.res.Namespaced && c.ri.namespace != "" && c.res.Resource != "namespaces" {
		c.fail(notFoundPath())
		return false
	}
	return true
}

// body reads the request body up to the size limit.
func (c *call) body() ([]byte, error) {
	if c.r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(c.r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest("reading request body: " + err.Error())
	}
	if len(data) > maxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError("limit is 3145728")
	}
	return data, nil
}

// storageGVK is the kind objects of c.res are stored as.
func (c *call) storageGVK() schema.GroupVersionKind {
	return c.res.StorageVersion.WithKind(c.res.Kind)
}

// servedAsStored says whether the request's version is the storage
// version, so stored bytes can be sent as they are.
func (c *call) servedAsStored() bool {
	return c.res.GroupVersion == c.res.StorageVersion
}
