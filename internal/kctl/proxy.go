package kctl

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
)

const (
	defaultAcceptHosts  = `^localhost$,^127\.0\.0\.1$,^\[::1\]$`
	defaultRejectPaths  = `^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach`
	defaultRejectMethod = `^$`
)

// proxyFilter is kubectl proxy's request filter: hosts must match an
// accept pattern, paths and methods must match no reject pattern.
type proxyFilter struct {
	acceptHosts, acceptPaths, rejectPaths, rejectMethods []*regexp.Regexp
}

func compileAll(s string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range strings.Split(s, ",") {
		if p == "" {
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func (p *proxyFilter) allowed(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	return anyMatch(p.acceptHosts, host) && anyMatch(p.acceptPaths, r.URL.Path) &&
		!anyMatch(p.rejectPaths, r.URL.Path) && !anyMatch(p.rejectMethods, r.Method)
}

func newProxyCommand(f *Factory) *cobra.Command {
	var port int
	var address, acceptHosts, acceptPaths, rejectPaths, rejectMethods, prefix, unixSocket string
	var disableFilter bool
	var keepalive time.Duration
	cmd := &cobra.Command{
		Use:   "proxy [--port=PORT] [--www=static-dir] [--www-prefix=prefix] [--api-prefix=prefix]",
		Short: "Run a proxy to the Kubernetes API server",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.RESTConfig()
			if err != nil {
				return err
			}
			filter := &proxyFilter{}
			for _, x := range []struct {
				dst *[]*regexp.Regexp
				src string
			}{{&filter.acceptHosts, acceptHosts}, {&filter.acceptPaths, acceptPaths}, {&filter.rejectPaths, rejectPaths}, {&filter.rejectMethods, rejectMethods}} {
				if *x.dst, err = compileAll(x.src); err != nil {
					return err
				}
			}
			if keepalive != 0 {
				// TCP keep-alive probes on the connections to the API server.
				cfg = rest.CopyConfig(cfg)
				cfg.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: keepalive}).DialContext
			}
			handler, err := proxyHandler(cfg, prefix, filter, disableFilter)
			if err != nil {
				return err
			}
			var l net.Listener
			if unixSocket != "" {
				l, err = net.Listen("unix", unixSocket)
			} else {
				l, err = net.Listen("tcp", net.JoinHostPort(address, fmt.Sprint(port)))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Starting to serve on %s\n", l.Addr().String())
			srv := &http.Server{Handler: handler}
			go func() {
				<-cmd.Context().Done()
				srv.Close()
			}()
			if err := srv.Serve(l); err != http.ErrServerClosed {
				return err
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&port, "port", "p", 8001, "The port on which to run the proxy. Set to 0 to pick a random port.")
	fl.StringVar(&address, "address", "127.0.0.1", "The IP address on which to serve on.")
	fl.StringVar(&acceptHosts, "accept-hosts", defaultAcceptHosts, "Regular expression for hosts that the proxy should accept.")
	fl.StringVar(&acceptPaths, "accept-paths", "^.*", "Regular expression for paths that the proxy should accept.")
	fl.StringVar(&rejectPaths, "reject-paths", defaultRejectPaths, "Regular expression for paths that the proxy should reject. Paths specified here will be rejected even accepted by --accept-paths.")
	fl.StringVar(&rejectMethods, "reject-methods", defaultRejectMethod, "Regular expression for HTTP methods that the proxy should reject (example --reject-methods='POST,PUT,PATCH'). ")
	fl.StringVar(&prefix, "api-prefix", "/", "Prefix to serve the proxied API under.")
	fl.StringVarP(&unixSocket, "unix-socket", "u", "", "Unix socket on which to run the proxy.")
	fl.DurationVar(&keepalive, "keepalive", 0, "keepalive specifies the keep-alive period for an active network connection. Set to 0 to disable keepalive.")
	fl.BoolVar(&disableFilter, "disable-filter", false, "If true, disable request filtering in the proxy. This is dangerous, and can leave you vulnerable to XSRF attacks, when used with an accessible port.")
	return cmd
}

// proxyHandler forwards requests under prefix to the API server with the
// client's credentials, refusing what the filter rejects with 403.
func proxyHandler(cfg *rest.Config, prefix string, filter *proxyFilter, disable bool) (http.Handler, error) {
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = transport
	base := rp.Director
	rp.Director = func(r *http.Request) {
		base(r)
		r.Host = target.Host
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	mux := http.NewServeMux()
	mux.Handle(prefix, http.StripPrefix(strings.TrimSuffix(prefix, "/"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !disable && !filter.allowed(r) {
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		rp.ServeHTTP(w, r)
	})))
	return mux, nil
}
