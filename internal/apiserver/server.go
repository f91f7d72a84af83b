package apiserver

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/store"
)

// Catalog is what the server needs to know of the served resources;
// *registry.Registry implements it.
type Catalog interface {
	// Groups in discovery order, the core group "" first.
	Groups() []registry.Group
	// Resources of one group/version, sorted by plural name.
	Resources(gv schema.GroupVersion) []*registry.Resource
	Lookup(gvr schema.GroupVersionResource) (*registry.Resource, bool)
}

// OpenAPI serves the OpenAPI documents and the schema server-side apply
// merges by; internal/apiserver/openapi provides it. nil serves none.
type OpenAPI interface {
	// Handler serves /openapi/v2 and /openapi/v3[/...].
	Handler() http.Handler
	// TypeConverter for managed fields and server-side apply.
	TypeConverter() managedfields.TypeConverter
}

// Config is what New needs.
type Config struct {
	Store   store.Backend
	Catalog Catalog
	OpenAPI OpenAPI // optional
	Logger  *slog.Logger

	ServiceCIDR   netip.Prefix
	NodePortRange [2]int // inclusive
	ClusterDNS    netip.Addr
	ClusterDomain string
	// AdvertiseAddress:SecurePort is where default/kubernetes points.
	AdvertiseAddress netip.Addr
	SecurePort       int

	// ServiceAccountKey signs service-account tokens; Issuer is their iss.
	ServiceAccountKey    crypto.Signer
	ServiceAccountIssuer string

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Outside serves paths that are not part of the Kubernetes API on the
	// same port, before authentication (they check credentials of their
	// own): the node join endpoints of internal/server (/cacerts, …).
	Outside map[string]http.Handler

	// DialNode reaches node agents for pods/log, exec, attach,
	// portforward, nodes/proxy and metrics.k8s.io (nodeproxy.go); nil
	// answers those with 503. DisableMetrics leaves metrics.k8s.io out.
	DialNode       DialNode
	DisableMetrics bool
}

// Server is the Kubernetes API server. New builds it; Bootstrap creates the
// objects every cluster has; Serve runs it on a listener.
type Server struct {
	cfg    Config
	log    *slog.Logger
	codecs *codecs
	disc   *discovery
	alloc  *allocators
	now    func() time.Time

	fmMu          sync.Mutex
	fieldManagers map[fmKey]*managedfields.FieldManager
	decoded       *decodedCache // decoded.go
	createMemo    managedMemo   // managed_create.go

	readyMu sync.RWMutex
	ready   bool

	// propagating holds the UIDs of owners whose orphan/foreground
	// deletion is being processed (dependents.go).
	propagating sync.Map
	// lifecycleControllers is set while the namespace and garbage-collector
	// controllers run (hooks.go).
	lifecycleControllers atomic.Bool

	kubelet *kubeletClient // nodeproxy.go; nil without Config.DialNode
}

// New builds a server; it starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Catalog == nil {
		return nil, errors.New("apiserver: store and catalog are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	c, err := newCodecs()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:           cfg,
		log:           cfg.Logger.With("component", "apiserver"),
		codecs:        c,
		now:           cfg.Now,
		fieldManagers: map[fmKey]*managedfields.FieldManager{},
		decoded:       newDecodedCache(decodedCacheEntries, decodedCacheTotalBytes),
	}
	addr := ""
	if cfg.AdvertiseAddress.IsValid() && cfg.SecurePort > 0 {
		addr = netip.AddrPortFrom(cfg.AdvertiseAddress, uint16(cfg.SecurePort)).String()
	}
	s.kubelet = newKubeletClient(cfg.DialNode)
	if s.disc, err = newDiscovery(s.discoveryCatalog(), addr); err != nil {
		return nil, err
	}
	s.alloc = newAllocators(cfg.ServiceCIDR, cfg.NodePortRange, cfg.ClusterDNS)
	return s, nil
}

// Serve serves HTTPS on ln until ctx ends, then shuts down gracefully
// (long-running watches are cut after a short grace).
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	hs := &http.Server{
		Handler:           s,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 1000},
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig == nil {
			errc <- hs.Serve(ln)
			return
		}
		errc <- hs.ServeTLS(ln, "", "")
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	_ = hs.Close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// ServeHTTP is the request pipeline: authenticate, then route to health,
// version, discovery, OpenAPI or a resource handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		defer func() {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
				"code", rec.code, "user", userFrom(r.Context()).Name, "duration", time.Since(start))
		}()
		w = rec
	}
	path := r.URL.Path
	if h, ok := s.cfg.Outside[path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	u, authed := authenticate(r)
	if !authed && !publicPath(path) {
		writeStatus(w, unauthorized())
		return
	}
	r = r.WithContext(contextWithUser(r.Context(), u))
	switch {
	case path == "/version" || path == "/version/":
		s.serveVersion(w, r)
	case path == "/healthz" || path == "/livez" || path == "/readyz" ||
		strings.HasPrefix(path, "/healthz/") || strings.HasPrefix(path, "/livez/") || strings.HasPrefix(path, "/readyz/"):
		s.serveHealth(w, r)
	case strings.HasPrefix(path, "/openapi/"):
		if s.cfg.OpenAPI == nil {
			writeError(w, notFoundPath(), schema.GroupResource{}, "")
			return
		}
		s.cfg.OpenAPI.Handler().ServeHTTP(w, r)
	case path == "/api" || path == "/api/" || path == "/apis" || path == "/apis/":
		s.disc.serveRoot(w, r)
	default:
		s.serveAPI(w, r)
	}
}

// serveAPI handles /api/v1[/...] and /apis/<g>[/<v>[/...]].
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) == 2 && parts[0] == "api":
		s.disc.serveGroupVersion(w, r, schema.GroupVersion{Version: parts[1]})
		return
	case len(parts) == 2 && parts[0] == "apis":
		s.disc.serveGroup(w, r, parts[1])
		return
	case len(parts) == 3 && parts[0] == "apis":
		s.disc.serveGroupVersion(w, r, schema.GroupVersion{Group: parts[1], Version: parts[2]})
		return
	}
	var query url.Values // nil (no parameters) unless the request has a query
	if r.URL.RawQuery != "" {
		query = r.URL.Query()
	}
	ri, ok := parseResourcePath(r.Method, parts, query)
	if !ok || ri.verb == "" {
		writeError(w, notFoundPath(), schema.GroupResource{}, "")
		return
	}
	if ri.gv.Group == metricsGroup && s.metricsServed() {
		s.serveMetrics(w, r, ri) // metrics.go
		return
	}
	res, ok := s.cfg.Catalog.Lookup(ri.gv.WithResource(ri.resource))
	if !ok {
		writeError(w, notFoundPath(), schema.GroupResource{}, "")
		return
	}
	s.serveResource(w, r, ri, res)
}

// SetReady marks the server ready (/readyz) once bootstrapping is done.
func (s *Server) SetReady(ready bool) {
	s.readyMu.Lock()
	s.ready = ready
	s.readyMu.Unlock()
}

func (s *Server) isReady() bool {
	s.readyMu.RLock()
	defer s.readyMu.RUnlock()
	return s.ready
}

// statusRecorder remembers the status code for the debug request log;
// Unwrap keeps flushing and hijacking available through
// http.ResponseController.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func contextWithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userCtxKey{}, u)
}
