package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// config is read from the environment the image sets.
type config struct {
	mode     string // KUBIA_MODE
	addr     string // ":" + PORT (8080)
	hostname string
	dataFile string // DATA_FILE, for pet modes
	service  string // SERVICE_NAME, whose SRV records list the peers
}

func configFromEnv() config {
	host, _ := os.Hostname()
	return config{
		mode:     envOr("KUBIA_MODE", "v1"),
		addr:     ":" + envOr("PORT", "8080"),
		hostname: host,
		dataFile: envOr("DATA_FILE", "/var/data/kubia.txt"),
		service:  envOr("SERVICE_NAME", "kubia.default.svc.cluster.local"),
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// app answers requests the way the mode says.
type app struct {
	cfg   config
	log   io.Writer
	mu    sync.Mutex
	count int
	peers func(ctx context.Context) ([]*net.SRV, error)
	fetch func(ctx context.Context, url string) (string, error)
}

func newApp(cfg config, log io.Writer) (*app, error) {
	switch cfg.mode {
	case "v1", "latest", "v2", "v3", "v4", "unhealthy", "pet", "pet-peers":
	default:
		return nil, fmt.Errorf("unknown KUBIA_MODE %q (v1, v2, v3, v4, unhealthy, pet, pet-peers)", cfg.mode)
	}
	a := &app{cfg: cfg, log: log, fetch: httpGet}
	a.peers = func(ctx context.Context) ([]*net.SRV, error) {
		_, srvs, err := net.DefaultResolver.LookupSRV(ctx, "", "", cfg.service)
		return srvs, err
	}
	return a, nil
}

// serve runs the server until ctx ends (SIGTERM), then shuts down quickly so
// that a pod terminates without waiting out its grace period.
func serve(ctx context.Context, cfg config, log io.Writer) error {
	a, err := newApp(cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(log, "Kubia server starting...")
	l, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	return a.run(ctx, l)
}

// run serves on l until ctx ends.
func (a *app) run(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	fmt.Fprintf(a.log, "Received request from %s\n", host)
	a.mu.Lock()
	a.count++
	n := a.count
	a.mu.Unlock()
	h := a.cfg.hostname
	switch a.cfg.mode {
	case "v2", "v4":
		fmt.Fprintf(w, "This is %s running in pod %s\n", a.cfg.mode, h)
	case "v3":
		if n >= 5 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "Some internal error has occurred! This is pod %s\n", h)
			return
		}
		fmt.Fprintf(w, "This is v3 running in pod %s\n", h)
	case "unhealthy":
		if n > 5 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "I'm not well. Please restart me!")
			return
		}
		fmt.Fprintf(w, "You've hit %s\n", h)
	case "pet", "pet-peers":
		a.pet(w, r)
	default:
		fmt.Fprintf(w, "You've hit %s\n", h)
	}
}

// pet keeps one piece of data per pod on its volume.
func (a *app) pet(w http.ResponseWriter, r *http.Request) {
	h := a.cfg.hostname
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = os.MkdirAll(filepath.Dir(a.cfg.dataFile), 0o755)
		}
		if err == nil {
			err = os.WriteFile(a.cfg.dataFile, body, 0o644)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "Data stored on pod %s\n", h)
		return
	}
	data := a.data()
	if a.cfg.mode == "pet" {
		fmt.Fprintf(w, "You've hit %s\nData stored on this pod: %s\n", h, data)
		return
	}
	if r.URL.Path == "/data" {
		fmt.Fprint(w, data)
		return
	}
	fmt.Fprintf(w, "You've hit %s\nData stored in the cluster:\n", h)
	srvs, err := a.peers(r.Context())
	if err != nil || len(srvs) == 0 {
		fmt.Fprintln(w, "No peers discovered.")
		return
	}
	for _, s := range srvs {
		target := strings.TrimSuffix(s.Target, ".")
		got, err := a.fetch(r.Context(), fmt.Sprintf("http://%s:%d/data", target, s.Port))
		if err != nil {
			got = "Error: " + err.Error()
		}
		fmt.Fprintf(w, "- %s: %s\n", target, got)
	}
}

func (a *app) data() string {
	b, err := os.ReadFile(a.cfg.dataFile)
	if err != nil || len(b) == 0 {
		return "No data posted yet"
	}
	return string(b)
}

func httpGet(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), err
}
