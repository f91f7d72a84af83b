package image

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Credential is one registry login from a pull secret.
type Credential struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
}

func (c Credential) authenticator() authn.Authenticator {
	return authn.FromConfig(authn.AuthConfig{
		Username:      c.Username,
		Password:      c.Password,
		IdentityToken: c.IdentityToken,
		RegistryToken: c.RegistryToken,
	})
}

// Keyring holds the logins of a pod's imagePullSecrets and finds those that
// apply to an image, as the kubelet's credential keyring does.
type Keyring struct {
	entries []keyringEntry
}

type keyringEntry struct {
	host string // may hold globs: *.example.com
	port string
	path string // repository prefix, "" for the whole host
	cred Credential
}

// dockerConfigEntry is one "auths" value of a .dockerconfigjson (or a
// top-level value of a legacy .dockercfg).
type dockerConfigEntry struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// ParseKeyring reads the decoded data of pull secrets: each item is either
// a .dockerconfigjson ({"auths": {...}}, type kubernetes.io/dockerconfigjson)
// or a legacy .dockercfg (the map itself, type kubernetes.io/dockercfg).
func ParseKeyring(secrets ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	for i, raw := range secrets {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			return nil, fmt.Errorf("pull secret %d is not a docker config: %w", i, err)
		}
		auths := top
		if a, ok := top["auths"]; ok {
			auths = nil
			if err := json.Unmarshal(a, &auths); err != nil {
				return nil, fmt.Errorf("pull secret %d: auths: %w", i, err)
			}
		}
		for key, v := range auths {
			var e dockerConfigEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return nil, fmt.Errorf("pull secret %d: %q: %w", i, key, err)
			}
			if err := k.add(key, e); err != nil {
				return nil, fmt.Errorf("pull secret %d: %w", i, err)
			}
		}
	}
	slices.SortStableFunc(k.entries, func(a, b keyringEntry) int {
		if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
			return c
		}
		return cmp.Compare(strings.Count(a.host, "*"), strings.Count(b.host, "*"))
	})
	return k, nil
}

func (k *Keyring) add(key string, e dockerConfigEntry) error {
	cred := Credential{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
	if e.Auth != "" {
		dec, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return fmt.Errorf("%q: auth is not base64", key)
		}
		user, pass, ok := strings.Cut(string(dec), ":")
		if !ok {
			return fmt.Errorf("%q: auth is not user:password", key)
		}
		cred.Username, cred.Password = user, pass
	}
	v := key
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a registry address", key)
	}
	p := strings.Trim(u.Path, "/")
	if rest, ok := strings.CutPrefix(p+"/", "v1/"); ok {
		p = strings.Trim(rest, "/")
	} else if rest, ok := strings.CutPrefix(p+"/", "v2/"); ok {
		p = strings.Trim(rest, "/")
	}
	host, port := u.Hostname(), u.Port()
	if isDockerHub(host) {
		host = "docker.io"
	}
	k.entries = append(k.entries, keyringEntry{host: host, port: port, path: p, cred: cred})
	return nil
}

func isDockerHub(host string) bool {
	return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io"
}

// Lookup returns the credentials that apply to ref, most specific first.
func (k *Keyring) Lookup(ref Reference) []Credential {
	if k == nil {
		return nil
	}
	u, err := url.Parse("https://" + ref.Domain)
	if err != nil {
		return nil
	}
	host, port := u.Hostname(), u.Port()
	if isDockerHub(host) {
		host = "docker.io"
	}
	var out []Credential
	for _, e := range k.entries {
		if e.port != port || !globHost(e.host, host) {
			continue
		}
		if e.path != "" && ref.Path != e.path && !strings.HasPrefix(ref.Path, e.path+"/") {
			continue
		}
		out = append(out, e.cred)
	}
	return out
}

// globHost matches a host against a pattern whose labels may be globs, label
// by label ("*.example.com" matches "a.example.com", not "a.b.example.com").
func globHost(pattern, host string) bool {
	pp, hp := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pp) != len(hp) {
		return false
	}
	for i := range pp {
		if ok, _ := filepath.Match(pp[i], hp[i]); !ok {
			return false
		}
	}
	return true
}
