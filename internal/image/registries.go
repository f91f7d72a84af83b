package image

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Registries is a k3s-style registries.yaml:
//
//	mirrors:
//	  docker.io:
//	    endpoint: ["https://mirror.example.com:5000", "http://10.0.0.5:5000"]
//	    rewrite:
//	      "^rancher/(.*)": "mirrorproject/rancher-images/$1"
//	  "*":
//	    endpoint: ["https://catch-all.example.com"]
//	configs:
//	  mirror.example.com:5000:
//	    auth: {username: u, password: p}
//	    tls: {ca_file: /etc/ssl/mirror-ca.pem, insecure_skip_verify: false}
//
// A pull tries a registry's mirror endpoints in order (the "*" mirror when the
// registry has none of its own), then the registry itself unless the default
// endpoint is disabled. Rewrites apply to mirror endpoints only. configs are
// keyed by endpoint host ("*" applies to hosts without their own entry).
type Registries struct {
	Mirrors map[string]Mirror         `json:"mirrors,omitempty"`
	Configs map[string]RegistryConfig `json:"configs,omitempty"`

	rewrites map[string][]rewrite
	tls      map[string]*tls.Config
}

// Mirror lists the endpoints that serve a registry's images.
type Mirror struct {
	Endpoints []string          `json:"endpoint,omitempty"`
	Rewrites  map[string]string `json:"rewrite,omitempty"`
}

// RegistryConfig holds the credentials and TLS settings of one host.
type RegistryConfig struct {
	Auth *RegistryAuth `json:"auth,omitempty"`
	TLS  *RegistryTLS  `json:"tls,omitempty"`
}

// RegistryAuth is a username/password pair, a base64 "user:password" auth
// string or an identity token.
type RegistryAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	// IdentityTokenAlt accepts the spelling some k3s docs use.
	IdentityTokenAlt string `json:"identity_token,omitempty"`
}

// RegistryTLS configures how a host's certificate is checked and which
// client certificate is presented.
type RegistryTLS struct {
	CertFile           string `json:"cert_file,omitempty"`
	KeyFile            string `json:"key_file,omitempty"`
	CAFile             string `json:"ca_file,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

type rewrite struct {
	re   *regexp.Regexp
	repl string
}

// endpoint is one place to pull a reference from.
type endpoint struct {
	host      string // host[:port]
	plainHTTP bool
	repo      string // repository path there (rewritten for mirrors)
	mirror    bool   // false for the registry's own endpoint
}

// LoadRegistries reads a registries.yaml; a missing file (or path "") gives
// an empty configuration. Every setting is checked now, so that a typo is
// reported at start rather than at the first pull.
func LoadRegistries(path string) (*Registries, error) {
	if path == "" {
		return ParseRegistries(nil)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ParseRegistries(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("read registries config: %w", err)
	}
	r, err := ParseRegistries(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseRegistries parses and checks registries.yaml content.
func ParseRegistries(b []byte) (*Registries, error) {
	r := &Registries{}
	if err := yaml.UnmarshalStrict(b, r); err != nil {
		return nil, fmt.Errorf("registries config: %w", err)
	}
	r.rewrites = map[string][]rewrite{}
	r.tls = map[string]*tls.Config{}
	var errs []error
	for reg, m := range r.Mirrors {
		for _, e := range m.Endpoints {
			if _, _, err := parseEndpoint(e); err != nil {
				errs = append(errs, fmt.Errorf("mirrors.%s: %w", reg, err))
			}
		}
		pats := make([]string, 0, len(m.Rewrites))
		for p := range m.Rewrites {
			pats = append(pats, p)
		}
		slices.Sort(pats)
		for _, p := range pats {
			re, err := regexp.Compile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("mirrors.%s.rewrite %q: %w", reg, p, err))
				continue
			}
			r.rewrites[reg] = append(r.rewrites[reg], rewrite{re: re, repl: m.Rewrites[p]})
		}
	}
	for host, c := range r.Configs {
		if c.TLS == nil {
			continue
		}
		tc, err := c.TLS.config()
		if err != nil {
			errs = append(errs, fmt.Errorf("configs.%s.tls: %w", host, err))
			continue
		}
		r.tls[host] = tc
	}
	return r, errors.Join(errs...)
}

func (t *RegistryTLS) config() (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // the operator asked for it
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("cert_file and key_file go together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// parseEndpoint reads "https://host:port", "http://host" or "host:port"
// (https implied). A path other than /v2 is not supported.
func parseEndpoint(e string) (host string, plainHTTP bool, err error) {
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", false, fmt.Errorf("endpoint %q: %w", e, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false, fmt.Errorf("endpoint %q: scheme must be http or https", e)
	}
	if u.Host == "" {
		return "", false, fmt.Errorf("endpoint %q has no host", e)
	}
	switch strings.TrimSuffix(u.Path, "/") {
	case "", "/v2":
	default:
		return "", false, fmt.Errorf("endpoint %q: a path other than /v2 is not supported", e)
	}
	return u.Host, u.Scheme == "http", nil
}

// endpoints lists where to pull ref from, in order.
func (r *Registries) endpoints(ref Reference, disableDefault bool) []endpoint {
	key := ref.Domain
	m, ok := r.Mirrors[key]
	if !ok {
		key = "*"
		m, ok = r.Mirrors[key]
	}
	var out []endpoint
	if ok {
		repo := ref.Path
		for _, rw := range r.rewrites[key] {
			if rw.re.MatchString(repo) {
				repo = rw.re.ReplaceAllString(repo, rw.repl)
				break
			}
		}
		for _, e := range m.Endpoints {
			host, plain, err := parseEndpoint(e)
			if err != nil {
				continue // reported by ParseRegistries
			}
			out = append(out, endpoint{host: host, plainHTTP: plain, repo: repo, mirror: true})
		}
	}
	if !disableDefault || len(out) == 0 {
		out = append(out, endpoint{host: ref.Domain, repo: ref.Path})
	}
	return out
}

// hostKeys are the configs keys that may hold a host's settings, most
// specific first.
func hostKeys(host string) []string {
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return []string{host, "docker.io", "index.docker.io", "registry-1.docker.io", "*"}
	}
	return []string{host, "*"}
}

func (r *Registries) config(host string) (RegistryConfig, bool) {
	for _, k := range hostKeys(host) {
		if c, ok := r.Configs[k]; ok {
			return c, true
		}
	}
	return RegistryConfig{}, false
}

func (r *Registries) tlsConfig(host string) *tls.Config {
	for _, k := range hostKeys(host) {
		if c, ok := r.tls[k]; ok {
			return c
		}
	}
	return nil
}
