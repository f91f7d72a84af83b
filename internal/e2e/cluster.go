package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/server"
)

// Cluster is a `kserver server --disable-agent` running in-process on a
// free loopback port with its own data directory.
type Cluster struct {
	DataDir    string
	Kubeconfig string
	Port       int
	// API is the running API server (changes on Restart).
	API *apiserver.Server

	cfg    server.Config
	logger *slog.Logger
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

// Start runs an API-server-only `kserver server` for the test (no node
// agent, controllers or scheduler: tests of those build their own on it)
// and stops it when the test ends. Server logs go to the test log when -v
// is given.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWith(t, func(c *server.Config) { c.Disable = append(c.Disable, "controllers", "scheduler") })
}

// StartWith is Start with the server's configuration adjusted by configure
// after the test defaults are set (port, data directory, node name "e2e",
// --disable-agent); nil keeps them, which runs the controllers and the
// scheduler too.
func StartWith(t testing.TB, configure func(*server.Config)) *Cluster {
	t.Helper()
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.BindAddress = "127.0.0.1"
	cfg.HTTPSListenPort = port
	cfg.NodeName = "e2e"
	cfg.NodeIP = "127.0.0.1"
	cfg.DisableAgent = true
	cfg.WriteKubeconfig = filepath.Join(dir, "kubeconfig.yaml")
	if configure != nil {
		configure(&cfg)
	}
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = testWriter{t}
	}
	c := &Cluster{DataDir: dir, Kubeconfig: cfg.WriteKubeconfig, Port: port, cfg: cfg,
		logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop kserver: %v", err)
		}
	})
	return c
}

func (c *Cluster) start() error {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *apiserver.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.RunWithLogger(ctx, c.cfg, c.logger, func(_ net.Addr, api *apiserver.Server) { ready <- api })
	}()
	select {
	case api := <-ready:
		c.mu.Lock()
		c.API, c.cancel, c.done = api, cancel, done
		c.mu.Unlock()
		return nil
	case err := <-done:
		cancel()
		return fmt.Errorf("kserver server exited before it was ready: %w", err)
	case <-time.After(30 * time.Second):
		cancel()
		return fmt.Errorf("kserver server not ready after 30s")
	}
}

// Stop stops the server and waits for it to exit.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.cancel, c.done = nil, nil
	c.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("kserver server did not stop within 30s")
	}
}

// Restart stops the server and starts it again on the same port and data.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
}

// RestConfig is the admin client configuration from the kubeconfig.
func (c *Cluster) RestConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// env returns os.Environ with overrides.
func env(overrides map[string]string) []string {
	out := []string{}
	for _, kv := range os.Environ() {
		k := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				k = kv[:i]
				break
			}
		}
		if _, ok := overrides[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range overrides {
		out = append(out, k+"="+v)
	}
	return out
}
