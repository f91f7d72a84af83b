package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/netns"
)

// queryTimeout bounds the whole handling of one query, forwarding
// included.
const queryTimeout = 5 * time.Second

// Server is the cluster DNS server: it answers names under the cluster
// domain from the informer cache and forwards the rest to the node's
// upstream resolvers, over UDP and TCP on every listen address.
type Server struct {
	cfg   Config
	log   *slog.Logger
	inf   *client.Informers
	idx   *index
	fwd   *forwarder
	cache *answerCache

	mu       sync.Mutex
	informed bool // fed by informers: HasSynced asks their handlers
	synced   []cache.InformerSynced
	addrs    []net.Addr
	ready    chan struct{}
	ctx      context.Context // Run's, for queries
}

var _ mdns.Handler = (*Server)(nil)

// New builds a DNS server reading Services, EndpointSlices and Namespaces
// (and Pods in PodsVerified mode) through informers, shared with other
// components. It starts nothing; Run does.
func New(cfg Config, informers *client.Informers, logger *slog.Logger) (*Server, error) {
	if informers == nil {
		return nil, errors.New("dns: informers are required")
	}
	s, err := newServer(cfg, logger)
	if err != nil {
		return nil, err
	}
	s.inf, s.informed = informers, true
	return s, nil
}

// newServer is New without informers; tests feed the index through the
// event handlers.
func newServer(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dns config: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	cfg = cfg.withDefaults()
	log := logger.With("component", "dns")
	return &Server{
		cfg:   cfg,
		log:   log,
		idx:   newIndex(),
		fwd:   newForwarder(cfg, log),
		cache: newAnswerCache(cfg.CacheSize, cfg.CacheMaxTTL),
		ready: make(chan struct{}),
		ctx:   context.Background(),
	}, nil
}

// Run registers the informer handlers, starts the informers not yet
// started, listens on every address and serves until ctx ends. It answers
// at once: until the informers have synced, names under the cluster domain
// that are not found get SERVFAIL instead of NXDOMAIN (as CoreDNS does),
// and other names are forwarded as usual.
func (s *Server) Run(ctx context.Context) error {
	var regs []registeredHandler
	defer func() {
		for _, r := range regs {
			_ = r.inf.RemoveEventHandler(r.reg)
		}
	}()
	if s.inf != nil {
		for _, h := range s.handlers() {
			reg, err := h.inf.AddEventHandler(h.h)
			if err != nil {
				return fmt.Errorf("dns: add event handler: %w", err)
			}
			regs = append(regs, registeredHandler{h.inf, reg})
			s.mu.Lock()
			s.synced = append(s.synced, reg.HasSynced)
			s.mu.Unlock()
		}
		s.inf.Start(ctx)
	}
	s.fwd.load()
	servers, err := s.listen()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("DNS server listening", "addrs", fmt.Sprint(s.Addrs()), "domain", s.cfg.Domain, "upstreams", fmt.Sprint(s.fwd.list()))

	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ActivateAndServe() }()
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); s.fwd.watch(watchCtx) }()
	defer func() { stopWatch(); <-watched }()
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("dns: serve: %w", err)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.ShutdownContext(shutdown)
	}
	return err
}

type registeredHandler struct {
	inf cache.SharedIndexInformer
	reg cache.ResourceEventHandlerRegistration
}

// Ready is closed once Run listens on every address.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs are the addresses served (each on UDP and TCP), known once Ready
// is closed.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// HasSynced reports whether the index holds the informers' initial lists.
func (s *Server) HasSynced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.informed {
		return true // fed directly (tests)
	}
	if len(s.synced) == 0 {
		return false // Run has not registered the handlers yet
	}
	for _, f := range s.synced {
		if !f() {
			return false
		}
	}
	return true
}

// listen binds UDP and TCP on every configured address. A port 0 gets
// the same free port for both.
func (s *Server) listen() ([]*mdns.Server, error) {
	var servers []*mdns.Server
	closeAll := func() {
		for _, srv := range servers {
			if srv.PacketConn != nil {
				srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				srv.Listener.Close()
			}
		}
	}
	var addrs []net.Addr
	for _, a := range s.cfg.Listen {
		pc, ln, err := s.bind(a)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("dns: listen on %s: %w", a, err)
		}
		servers = append(servers,
			&mdns.Server{PacketConn: pc, Handler: s, UDPSize: 4096},
			&mdns.Server{Listener: ln, Handler: s})
		addrs = append(addrs, pc.LocalAddr())
	}
	s.mu.Lock()
	s.addrs = addrs
	s.mu.Unlock()
	return servers, nil
}

// bind is bindBoth inside Config.NetNS when set: sockets stay in the
// namespace they were made in.
func (s *Server) bind(addr string) (pc net.PacketConn, ln net.Listener, err error) {
	if s.cfg.NetNS == "" {
		return bindBoth(addr)
	}
	ns, err := netns.Open(s.cfg.NetNS)
	if err != nil {
		return nil, nil, err
	}
	defer ns.Close()
	err = ns.Do(func() error {
		var err error
		pc, ln, err = bindBoth(addr)
		return err
	})
	return pc, ln, err
}

func bindBoth(addr string) (net.PacketConn, net.Listener, error) {
	host, port, _ := net.SplitHostPort(addr)
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := port
		if p == "0" {
			p = strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

func (s *Server) queryContext() (context.Context, context.CancelFunc) {
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	return context.WithTimeout(ctx, queryTimeout)
}
