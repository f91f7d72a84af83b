package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/apiserver/openapi"
	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/pki"
	"kserver.dev/kserver/internal/store/sqlite"
	"kserver.dev/kserver/internal/version"
)

// Run runs `kserver server` until ctx ends.
func Run(ctx context.Context, cfg Config) (err error) {
	if err := cfg.Validate(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return RunWithLogger(ctx, cfg, logger, nil)
}

// Started is told where the API server listens once it is ready; tests and
// benchmarks use it. May be nil.
type Started func(addr net.Addr, api *apiserver.Server)

// RunWithLogger is Run with a given logger and a readiness callback.
func RunWithLogger(ctx context.Context, cfg Config, logger *slog.Logger, started Started) (err error) {
	begin := time.Now()
	logger.Info("starting kserver server", "data-dir", cfg.DataDir)

	// The datastore: its folder is created with mode 0700, the file 0600.
	dbCfg := sqlite.DefaultConfig(cfg.DatabasePath())
	dbCfg.Logger = logger
	st, err := sqlite.Open(ctx, dbCfg)
	if err != nil {
		return fmt.Errorf("open datastore: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close datastore: %w", cerr))
		}
	}()
	logger.Info("datastore ready", "path", cfg.DatabasePath(), "rev", st.CurrentRevision())

	serviceCIDR := netip.MustParsePrefix(cfg.ServiceCIDR).Masked()
	nodeIP := nodeAddress(cfg.NodeIP)
	host, _ := os.Hostname()
	certs, err := pki.EnsureServer(pki.ServerOptions{
		Dir:           filepath.Join(cfg.DataDir, "server", "tls"),
		NodeIP:        net.IP(nodeIP.AsSlice()),
		Hostname:      host,
		ServiceIP:     net.IP(serviceCIDR.Addr().Next().AsSlice()),
		ClusterDomain: cfg.ClusterDomain,
		// As k3s, whose advertise address defaults to the first
		// --node-external-ip: clients outside reach the API server there.
		SANs: append(slices.Clone(cfg.TLSSANs), cfg.NodeExternalIP...),
	})
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	joinSecret, err := ensureNodeToken(filepath.Join(cfg.DataDir, "server"), cfg.Token, certs.ServerCA.CertPEM)
	if err != nil {
		return err
	}
	kubelets, err := loadKubeletPKI(filepath.Join(cfg.DataDir, "server", "tls"), certs.ClientCA) // kubelet.go
	if err != nil {
		return err
	}
	local := &localAgents{}
	lo, hi, _ := ParsePortRange(cfg.ServiceNodePortRange)
	catalog := registry.New()
	docs, err := openapi.New(openapi.Config{Resources: catalog.All(), Version: version.Kubernetes})
	if err != nil {
		return err
	}
	api, err := apiserver.New(apiserver.Config{
		Store:                st,
		Catalog:              catalog,
		OpenAPI:              docs,
		Logger:               logger,
		ServiceCIDR:          serviceCIDR,
		NodePortRange:        [2]int{lo, hi},
		ClusterDNS:           netip.MustParseAddr(cfg.ClusterDNS),
		ClusterDomain:        cfg.ClusterDomain,
		AdvertiseAddress:     nodeIP,
		SecurePort:           cfg.HTTPSListenPort,
		ServiceAccountKey:    certs.ServiceKey,
		ServiceAccountIssuer: "https://kubernetes.default.svc." + cfg.ClusterDomain,
		Outside:              withKubeletHandlers(joinHandlers(joinSecret, certs.ServerCA.CertPEM, certs.ClientCA), kubelets),
		DialNode:             kubelets.nodeDialer(local),
		DisableMetrics:       cfg.Disabled("metrics"),
	})
	if err != nil {
		return err
	}
	if err := api.Bootstrap(ctx); err != nil {
		return err
	}
	tlsConfig, err := certs.TLSConfig()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.HTTPSListenPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if cfg.WriteKubeconfig != "" {
		mode, _ := cfg.KubeconfigMode()
		if err := certs.WriteKubeconfig(cfg.WriteKubeconfig, kubeconfigServer(cfg.BindAddress, ln.Addr()), mode); err != nil {
			_ = ln.Close()
			return fmt.Errorf("write kubeconfig: %w", err)
		}
	}
	cp := newControlPlane(cfg, api, certs.ServerCA.CertPEM, logger) // controllers.go
	api.SetReady(true)
	logger.Info("API server ready", "addr", ln.Addr().String(), "kubeconfig", cfg.WriteKubeconfig,
		"elapsed", time.Since(begin).Round(time.Millisecond))
	if started != nil {
		started(ln.Addr(), api)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return api.Serve(gctx, ln, tlsConfig) })
	g.Go(func() error { return cp.Run(gctx) })
	g.Go(func() error { return runClusterNetwork(gctx, api, cfg, logger) }) // network_cluster.go
	if !cfg.DisableAgent {
		g.Go(func() error { return runEmbeddedAgent(gctx, cfg, api, nodeIP, local, logger) })
	}
	return g.Wait()
}

// kubeconfigServer is the URL the admin kubeconfig points at: loopback
// when listening on all addresses, else the bind address.
func kubeconfigServer(bind string, addr net.Addr) string {
	_, port, _ := net.SplitHostPort(addr.String())
	host := "127.0.0.1"
	if ip := net.ParseIP(bind); ip != nil && !ip.IsUnspecified() {
		host = ip.String()
	}
	return "https://" + net.JoinHostPort(host, port)
}
