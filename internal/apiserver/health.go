package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	apiversion "k8s.io/apimachinery/pkg/version"

	"kserver.dev/kserver/internal/store"
	"kserver.dev/kserver/internal/version"
)

// versionInfo is /version: the Kubernetes release we serve, with our build
// metadata after "+" so that it parses as semver (kubectl and helm check).
func versionInfo() apiversion.Info {
	v := strings.TrimPrefix(version.Kubernetes, "v")
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	return apiversion.Info{
		Major:        major,
		Minor:        minor,
		GitVersion:   version.Kubernetes + "+kserver",
		GitCommit:    version.GitCommit,
		GitTreeState: "clean",
		BuildDate:    version.BuildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// storeHealthy reads a key that never exists: any answer but "not found"
// (closed store, I/O error, timeout) is unhealthy.
func (s *Server) storeHealthy(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := s.cfg.Store.Get(ctx, "/registry/health")
	return err == nil || errors.Is(err, store.ErrNotFound)
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, methodNotAllowed(r.Method, gr("", "version")), gr("", "version"), "")
		return
	}
	body, _ := json.MarshalIndent(versionInfo(), "", "  ")
	w.Header().Set("Content-Type", mediaJSON)
	_, _ = w.Write(body)
}

// serveHealth answers /healthz, /livez and /readyz (and their per-check
// paths) as upstream: "ok", or with ?verbose the list of checks.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	parts := splitPath(r.URL.Path)
	checks := []struct {
		name string
		ok   bool
	}{
		{"ping", true},
		{"log", true},
		{"etcd", s.storeHealthy(r.Context())},
	}
	if parts[0] == "readyz" {
		checks = append(checks, struct {
			name string
			ok   bool
		}{"informer-sync", s.isReady()})
	}
	if len(parts) == 2 {
		for _, c := range checks {
			if c.name == parts[1] {
				if !c.ok {
					http.Error(w, "internal server error: "+c.name+" check failed", http.StatusInternalServerError)
					return
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				_, _ = fmt.Fprint(w, "ok")
				return
			}
		}
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if c.ok {
			fmt.Fprintf(&b, "[+]%s ok\n", c.name)
		} else {
			fmt.Fprintf(&b, "[-]%s failed: reason withheld\n", c.name)
			failed = true
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%s%s check failed\n", b.String(), parts[0])
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		fmt.Fprintf(w, "%s%s check passed\n", b.String(), parts[0])
		return
	}
	_, _ = fmt.Fprint(w, "ok")
}
