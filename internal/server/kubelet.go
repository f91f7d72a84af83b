package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"kserver.dev/kserver/internal/agent"
	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/pki"
)

// How the API server and node agents reach each other's HTTPS APIs (see
// docs/streaming.md):
//
//   - The API server calls an agent as the kubelet's API is called: over
//     TLS with a client certificate of the client CA for the user
//     system:kube-apiserver (server/tls/client-kube-apiserver.crt),
//     verifying the agent's serving certificate against a CA of its own
//     (server/tls/kubelet-serving-ca.crt), so that a node's certificate
//     can never pass for the API server's.
//   - An agent admits only that user; a node's own certificate (same
//     client CA) gets 403, a caller without one 401.
//   - Joined agents and simulated fleets get their serving certificate
//     (for their node addresses) and the client CA from the join
//     endpoints, authenticated by their node client certificate.
//   - The server's embedded agent is reached in memory: no port, no TLS.
const (
	kubeletAPIUser      = "system:kube-apiserver"
	pathServingCert     = "/v1-kserver/serving-kubelet.crt"
	pathClientCA        = "/v1-kserver/client-ca.crt"
	servingCertName     = "serving-kubelet"
	servingCertValidity = 365 * 24 * time.Hour
	kubeletDialTimeout  = 10 * time.Second
)

// kubeletPKI is the server's side of it.
type kubeletPKI struct {
	servingCA *pki.CA // signs agents' serving certificates
	clientCA  *pki.CA
	client    tls.Certificate // the API server's client certificate
}

func loadKubeletPKI(tlsDir string, clientCA *pki.CA) (*kubeletPKI, error) {
	servingCA, err := pki.LoadOrCreateCA(tlsDir, "kubelet-serving-ca", "kserver-kubelet-serving-ca")
	if err != nil {
		return nil, err
	}
	pair, err := clientCA.LoadOrIssue(tlsDir, "client-kube-apiserver", pki.LeafSpec{CommonName: kubeletAPIUser})
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("load the API server's kubelet client certificate: %w", err)
	}
	return &kubeletPKI{servingCA: servingCA, clientCA: clientCA, client: cert}, nil
}

// nodeDialer is the API server's apiserver.DialNode: in memory to agents
// of this process, else TLS over TCP.
func (k *kubeletPKI) nodeDialer(local *localAgents) apiserver.DialNode {
	cfg := &tls.Config{Certificates: []tls.Certificate{k.client}, RootCAs: k.servingCA.Pool(),
		NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	return func(ctx context.Context, node, addr string) (net.Conn, error) {
		if c, ok, err := local.dial(ctx, node); ok {
			return c, err
		}
		d := net.Dialer{Timeout: kubeletDialTimeout, KeepAlive: 30 * time.Second}
		raw, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(addr)
		c := cfg.Clone()
		c.ServerName = host
		conn := tls.Client(raw, c)
		hctx, cancel := context.WithTimeout(ctx, kubeletDialTimeout)
		defer cancel()
		if err := conn.HandshakeContext(hctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return conn, nil
	}
}

// authorizeAPIServer admits only the API server's certificate.
func authorizeAPIServer(r *http.Request) error {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return agent.ErrUnauthenticated
	}
	user := r.TLS.VerifiedChains[0][0].Subject.CommonName
	if user != kubeletAPIUser {
		sub := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
		return fmt.Errorf("user=%s, verb=%s, resource=nodes, subresource=%s", user, strings.ToLower(r.Method), sub)
	}
	return nil
}

// servingCertHandlers are the join endpoints for agents' serving
// certificates and the client CA; callers authenticate with their node
// client certificate.
func (k *kubeletPKI) servingCertHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		pathServingCert: http.HandlerFunc(k.serveServingCert),
		pathClientCA: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := nodeIdentity(r); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/x-pem-file")
			_, _ = w.Write(k.clientCA.CertPEM)
		}),
	}
}

// nodeIdentity is the verified node client certificate of a request.
func nodeIdentity(r *http.Request) (string, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		c := r.TLS.VerifiedChains[0][0]
		if strings.HasPrefix(c.Subject.CommonName, nodeUserPrefix) && len(c.Subject.Organization) > 0 &&
			c.Subject.Organization[0] == nodesGroup {
			return c.Subject.CommonName, nil
		}
	}
	return "", errors.New("a node client certificate is required")
}

// serveServingCert signs a serving certificate request of a node for its
// own identity.
func (k *kubeletPKI) serveServingCert(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	who, err := nodeIdentity(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	csr, err := readCSR(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if csr.Subject.CommonName != who {
		http.Error(w, fmt.Sprintf("a node may request a serving certificate for itself (%s) only", who), http.StatusForbidden)
		return
	}
	cert, err := signServing(csr, k.servingCA)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(cert)
}

// agentListener listens on addr with the agent's serving certificate,
// admitting the API server's client certificate.
func agentListener(addr string, serving tls.Certificate, clientCA []byte) (net.Listener, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(clientCA) {
		return nil, errors.New("the client CA is not a PEM certificate")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("node API: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{serving}, ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs: pool, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}), nil
}

// serveAgentAPI serves h on ln until ctx ends.
func serveAgentAPI(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 90 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("node API: %w", err)
	case <-ctx.Done():
	}
	_ = srv.Close()
	<-errc
	return nil
}

// localAgents are the node agents of this process, reached in memory.
type localAgents struct {
	mu     sync.Mutex
	byNode map[string]*memListener
}

// serve serves a local agent's API until ctx ends.
func (l *localAgents) serve(ctx context.Context, node string, h http.Handler, logger *slog.Logger) error {
	ln := &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
	l.mu.Lock()
	if l.byNode == nil {
		l.byNode = map[string]*memListener{}
	}
	l.byNode[node] = ln
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.byNode, node)
		l.mu.Unlock()
	}()
	return serveAgentAPI(ctx, ln, h, logger)
}

// dial connects to a local agent; ok is false for agents elsewhere.
func (l *localAgents) dial(ctx context.Context, node string) (net.Conn, bool, error) {
	if l == nil {
		return nil, false, nil
	}
	l.mu.Lock()
	ln := l.byNode[node]
	l.mu.Unlock()
	if ln == nil {
		return nil, false, nil
	}
	c, err := ln.dial(ctx)
	return c, true, err
}

// memListener accepts in-memory connections.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

func (l *memListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	_ = client.Close()
	_ = server.Close()
	return nil, errors.New("the node agent of this process is not serving")
}

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "in-memory" }

// withKubeletHandlers adds the node API endpoints to the join handlers.
func withKubeletHandlers(join map[string]http.Handler, k *kubeletPKI) map[string]http.Handler {
	for p, h := range k.servingCertHandlers() {
		join[p] = h
	}
	return join
}

// servedBy returns the hook runNodeAgent calls with the built agent: its
// API is served on ln with only the API server admitted.
func servedBy(ln net.Listener, logger *slog.Logger) func(context.Context, *agent.Agent) error {
	return func(ctx context.Context, a *agent.Agent) error {
		return serveAgentAPI(ctx, ln, a.StreamServer(agent.StreamConfig{Authorize: authorizeAPIServer}), logger)
	}
}

// servedInMemory is the hook for the embedded agent.
func servedInMemory(local *localAgents, node string, logger *slog.Logger) func(context.Context, *agent.Agent) error {
	return func(ctx context.Context, a *agent.Agent) error {
		return local.serve(ctx, node, a.StreamServer(agent.StreamConfig{}), logger)
	}
}
