package kctl

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/homedir"

	"kserver.dev/kserver/internal/kctl/discovery"
	"kserver.dev/kserver/internal/version"
)

// ServerKubeconfig is the admin kubeconfig that `kserver server` writes. kctl
// reads it when neither --kubeconfig, $KUBECONFIG nor ~/.kube/config names
// one, so that kctl works on a kserver node out of the box.
const ServerKubeconfig = "/etc/kserver/kserver.yaml"

// Factory builds clients from the global flags. It is created once per
// invocation; every client is made on first use, so commands that need no
// server (config, completion, version --client) never dial.
//
// kctl does not use cli-runtime's ConfigFlags: that package links the
// resource builder, kustomize and every API group's scheme, which doubles
// the binary (47 MB against 24 MB) and slows start-up. The flags below are
// kubectl's connection flags, fed to client-go's clientcmd directly.
type Factory struct {
	Flags     *ConnFlags
	IO        genericiooptions.IOStreams
	Prefs     *Prefs
	Verbosity int
	// CommandLine is "kubectl <verb>" for the Kubectl-Command header.
	CommandLine string
	// changeCause is the command line recorded by --record.
	changeCause string
	// args is the command line kctl was given (without the program name).
	args []string

	cfgOnce  sync.Once
	clientCf clientcmd.ClientConfig
	restOnce sync.Once
	rest     *rest.Config
	restErr  error
	dynOnce  sync.Once
	dyn      dynamic.Interface
	dynErr   error
	discOnce sync.Once
	disc     *discovery.Client
	discErr  error
	mapper   *discovery.Mapper
}

// NewFactory returns a Factory with empty connection flags.
func NewFactory(streams genericiooptions.IOStreams, prefs *Prefs) *Factory {
	return &Factory{IO: streams, Prefs: prefs, Flags: &ConnFlags{}}
}

// resolveKubeconfig applies kserver's fallback: with no --kubeconfig, no
// $KUBECONFIG and no ~/.kube/config, use /etc/kserver/kserver.yaml when it
// can be read. Called once the flags are parsed.
func (f *Factory) resolveKubeconfig() {
	f.Flags.Kubeconfig = fallbackKubeconfig(f.Flags.Kubeconfig, os.Getenv("KUBECONFIG"), clientcmd.RecommendedHomeFile, ServerKubeconfig)
}

// fallbackKubeconfig returns the explicit kubeconfig path to use: the flag
// when set; otherwise "" (client-go's default rules) when $KUBECONFIG or the
// home file exists; otherwise server when it is readable.
func fallbackKubeconfig(flag, env, home, server string) string {
	if flag != "" || env != "" {
		return flag
	}
	if _, err := os.Stat(home); err == nil {
		return ""
	}
	fh, err := os.Open(server)
	if err != nil {
		return ""
	}
	fh.Close()
	return server
}

func (f *Factory) wrapConfig(c *rest.Config) *rest.Config {
	c.UserAgent = fmt.Sprintf("kctl/%s (%s) kubernetes/%s", version.Kubernetes, platform(), version.GitCommit)
	c.WarningHandler = rest.NewWarningWriter(f.IO.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	verbosity, errOut, cmdline := f.Verbosity, f.IO.ErrOut, f.CommandLine
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &headerTripper{next: &missingNamespaceTripper{next: rt}, command: cmdline, verbosity: verbosity, log: errOut}
	})
	return c
}

// headerTripper adds kubectl's informational Kubectl-Command header and, at
// -v=6 and above, logs each request with its status and latency like
// kubectl's round-tripper log.
type headerTripper struct {
	next      http.RoundTripper
	command   string
	verbosity int
	log       io.Writer
}

// WrappedRoundTripper lets client-go reach the transport beneath to
// cancel a request.
func (h *headerTripper) WrappedRoundTripper() http.RoundTripper { return h.next }

func (h *headerTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if h.command != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Kubectl-Command", h.command)
	}
	start := time.Now()
	resp, err := h.next.RoundTrip(req)
	if h.verbosity >= 6 {
		status := "error"
		if resp != nil {
			status = resp.Status
		}
		fmt.Fprintf(h.log, "I%s %s %s %s in %d milliseconds\n", start.Format("0102 15:04:05.000000"),
			req.Method, req.URL, status, time.Since(start).Milliseconds())
	}
	return resp, err
}

// ClientConfig is the kubeconfig loader with the flag overrides applied.
func (f *Factory) ClientConfig() clientcmd.ClientConfig {
	f.cfgOnce.Do(func() {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = f.Flags.Kubeconfig
		f.clientCf = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, f.Flags.overrides())
	})
	return f.clientCf
}

// Namespace returns the namespace from -n or the context, and whether it
// was given explicitly.
func (f *Factory) Namespace() (string, bool, error) {
	return f.ClientConfig().Namespace()
}

// RESTConfig is the client configuration after flags and kubeconfig.
func (f *Factory) RESTConfig() (*rest.Config, error) {
	f.restOnce.Do(func() {
		f.rest, f.restErr = f.ClientConfig().ClientConfig()
		if f.restErr == nil {
			f.rest = f.wrapConfig(f.rest)
		}
	})
	return f.rest, f.restErr
}

// Dynamic returns the dynamic client.
func (f *Factory) Dynamic() (dynamic.Interface, error) {
	f.dynOnce.Do(func() {
		var c *rest.Config
		if c, f.dynErr = f.RESTConfig(); f.dynErr == nil {
			f.dyn, f.dynErr = dynamic.NewForConfig(c)
		}
	})
	return f.dyn, f.dynErr
}

// Discovery returns the disk-cached discovery client, sharing kubectl's
// cache (~/.kube/cache/discovery/<host> or $KUBECACHEDIR; --cache-dir).
func (f *Factory) Discovery() (*discovery.Client, error) {
	f.discOnce.Do(func() {
		c, err := f.RESTConfig()
		if err != nil {
			f.discErr = err
			return
		}
		c = rest.CopyConfig(c)
		c.Burst, c.QPS = 300, 50
		dir := f.Flags.CacheDir
		if dir == "" {
			dir = defaultCacheDir()
		}
		f.disc, f.discErr = discovery.New(c, discovery.CacheDir(filepath.Join(dir, "discovery"), c.Host), 6*time.Hour)
		if f.discErr == nil {
			f.mapper = discovery.NewMapper(f.disc, func(w string) { fmt.Fprintf(f.IO.ErrOut, "Warning: %s\n", w) })
		}
	})
	return f.disc, f.discErr
}

// Mapper returns the discovery-backed REST mapper with short-name expansion.
func (f *Factory) Mapper() (meta.RESTMapper, error) {
	if _, err := f.Discovery(); err != nil {
		return nil, err
	}
	return f.mapper, nil
}

func defaultCacheDir() string {
	if d := os.Getenv("KUBECACHEDIR"); d != "" {
		return d
	}
	return filepath.Join(homedir.HomeDir(), ".kube", "cache")
}

// prefsDir is where kctl's own preferences live: $XDG_CONFIG_HOME/kctl or
// ~/.config/kctl.
func prefsDir() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "kctl")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config", "kctl")
}
