package image

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func TestPullByTagAndDigest(t *testing.T) {
	reg := startRegistry(t, nil, false)
	img := imageOf(t, linuxAMD64, v1.Config{Entrypoint: []string{"/app"}, Env: []string{"A=1"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}}},
		layerOf(t, file{name: "etc/hello", body: "hi"}),
		layerOf(t, file{name: "app", body: "binary", mode: 0o755}))
	ref := reg.host + "/team/app:v1"
	reg.push(t, ref, img)
	id := mustDigest(t, img.ConfigName)
	manifest := mustDigest(t, img.Digest)

	s := newTestStore(t, nil)
	ctx := context.Background()
	im, err := s.Pull(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != id {
		t.Errorf("ID = %s, want the config digest %s", im.ID, id)
	}
	if want := []string{ref}; !slices.Equal(im.RepoTags, want) {
		t.Errorf("RepoTags = %v, want %v", im.RepoTags, want)
	}
	wantDigest := reg.host + "/team/app@" + manifest
	if !slices.Equal(im.RepoDigests, []string{wantDigest}) {
		t.Errorf("RepoDigests = %v, want [%s]", im.RepoDigests, wantDigest)
	}
	if im.Ref() != wantDigest {
		t.Errorf("Ref() = %s, want %s", im.Ref(), wantDigest)
	}
	if b, err := os.ReadFile(filepath.Join(s.layerDir(im.Layers[0]), "fs", "etc", "hello")); err != nil || string(b) != "hi" {
		t.Errorf("layer 0 file: %q, %v", b, err)
	}
	cfg, err := s.ImageConfig(ref)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/app"}) || !slices.Equal(cfg.ExposedPorts, []string{"8080/tcp"}) || !slices.Contains(cfg.Env, "A=1") {
		t.Errorf("config = %+v", cfg)
	}

	// The same image by digest: nothing new to unpack, one more repo digest.
	byDigest, err := s.Pull(ctx, reg.host+"/team/app@"+manifest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if byDigest.ID != id || len(s.List()) != 1 {
		t.Errorf("pull by digest: ID %s, %d images", byDigest.ID, len(s.List()))
	}
	for _, q := range []string{ref, reg.host + "/team/app@" + manifest, id} {
		if got, err := s.Get(q); err != nil || got.ID != id {
			t.Errorf("Get(%s) = %s, %v", q, got.ID, err)
		}
	}
}

func TestPullSelectsPlatformFromIndex(t *testing.T) {
	reg := startRegistry(t, nil, false)
	plats := []Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
		{OS: "linux", Architecture: "arm", Variant: "v6"},
	}
	idx := mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json")
	ids := map[string]string{}
	for _, p := range plats {
		img := imageOf(t, p, v1.Config{}, layerOf(t, file{name: "arch", body: p.String()}))
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}}})
		ids[p.String()] = mustDigest(t, img.ConfigName)
	}
	// An attestation manifest as buildx adds them must never be chosen.
	att := imageOf(t, Platform{OS: "unknown", Architecture: "unknown"}, v1.Config{}, layerOf(t, file{name: "sbom"}))
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}})
	ref := reg.host + "/multi/app:1.0"
	reg.push(t, ref, idx)
	indexDigest := mustDigest(t, idx.Digest)

	for _, tc := range []struct{ host, want string }{
		{"linux/amd64", "linux/amd64"},
		{"linux/arm64", "linux/arm64/v8"},
		{"linux/arm/v7", "linux/arm/v7"},
		{"linux/arm/v6", "linux/arm/v6"},
		{"linux/armv7l", "linux/arm/v7"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			p, err := ParsePlatform(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			s := newTestStore(t, func(c *Config) { c.Platform = p })
			im, err := s.Pull(context.Background(), ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			if im.ID != ids[tc.want] {
				t.Errorf("got image %s (%s), want the %s one", im.ID, im.Platform, tc.want)
			}
			if want := reg.host + "/multi/app@" + indexDigest; !slices.Equal(im.RepoDigests, []string{want}) {
				t.Errorf("RepoDigests = %v, want the index digest %s", im.RepoDigests, want)
			}
		})
	}
	t.Run("no match", func(t *testing.T) {
		s := newTestStore(t, func(c *Config) { c.Platform = Platform{OS: "linux", Architecture: "riscv64"} })
		_, err := s.Pull(context.Background(), ref, nil)
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "this node runs linux/riscv64") {
			t.Errorf("err = %v, want a platform mismatch", err)
		}
	})
	t.Run("single manifest for another arch", func(t *testing.T) {
		other := imageOf(t, Platform{OS: "linux", Architecture: "s390x"}, v1.Config{}, layerOf(t, file{name: "x"}))
		reg.push(t, reg.host+"/other/app:1", other)
		s := newTestStore(t, nil)
		_, err := s.Pull(context.Background(), reg.host+"/other/app:1", nil)
		if err == nil || !strings.Contains(err.Error(), "no match for platform") {
			t.Errorf("err = %v, want a platform mismatch", err)
		}
	})
}

// basicAuth puts a registry behind HTTP basic auth.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func dockerConfigJSON(host, user, pass string) []byte {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, host, auth)
}

func TestPullWithCredentials(t *testing.T) {
	reg := startRegistry(t, basicAuth("alice", "s3cret"), false)
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "private", body: "p"}))
	ref := reg.host + "/private/app:v1"
	reg.push(t, ref, img, remoteBasic("alice", "s3cret"))
	ctx := context.Background()

	t.Run("anonymous is refused", func(t *testing.T) {
		s := newTestStore(t, nil)
		_, err := s.Pull(ctx, ref, nil)
		if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "pull access denied") {
			t.Fatalf("err = %v, want unauthorized", err)
		}
	})
	t.Run("pull secrets, wrong one first", func(t *testing.T) {
		s := newTestStore(t, nil)
		kr, err := ParseKeyring(dockerConfigJSON(reg.host, "alice", "wrong"), []byte(fmt.Sprintf(`{"http://%s/v1/":{"username":"alice","password":"s3cret"}}`, reg.host)))
		if err != nil {
			t.Fatal(err)
		}
		if len(kr.Lookup(mustRef(t, ref))) != 2 {
			t.Fatalf("keyring has %d credentials for %s, want 2", len(kr.Lookup(mustRef(t, ref))), ref)
		}
		if _, err := s.Pull(ctx, ref, kr); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("registries.yaml auth", func(t *testing.T) {
		regs := writeFile(t, t.TempDir(), "registries.yaml", fmt.Sprintf("configs:\n  %q:\n    auth:\n      username: alice\n      password: s3cret\n", reg.host))
		s := newTestStore(t, func(c *Config) { c.RegistriesFile = regs })
		if _, err := s.Pull(ctx, ref, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func mustRef(t testing.TB, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPullThroughMirrorWithRewrite(t *testing.T) {
	mirror := startRegistry(t, nil, false)
	upstream := startRegistry(t, nil, false)
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "m", body: "from mirror"}))
	mirror.push(t, mirror.host+"/mirrorproject/team/app:v1", img)
	only := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "u", body: "upstream only"}))
	upstream.push(t, upstream.host+"/team/other:v1", only)
	ctx := context.Background()

	yaml := fmt.Sprintf(`mirrors:
  %q:
    endpoint: ["http://%s"]
    rewrite:
      "^team/(.*)": "mirrorproject/team/$1"
`, upstream.host, mirror.host)
	regs := writeFile(t, t.TempDir(), "registries.yaml", yaml)
	s := newTestStore(t, func(c *Config) { c.RegistriesFile = regs })
	upstream.manifests.Store(0)

	im, err := s.Pull(ctx, upstream.host+"/team/app:v1", nil)
	if err != nil {
		t.Fatalf("pull through the mirror: %v", err)
	}
	if im.ID != mustDigest(t, img.ConfigName) || !slices.Equal(im.RepoTags, []string{upstream.host + "/team/app:v1"}) {
		t.Errorf("got %s %v: the image keeps its own name", im.ID, im.RepoTags)
	}
	if upstream.manifests.Load() != 0 {
		t.Errorf("upstream was asked %d times although the mirror had the image", upstream.manifests.Load())
	}
	// The mirror lacks this one: the registry's own endpoint is tried last.
	if _, err := s.Pull(ctx, upstream.host+"/team/other:v1", nil); err != nil {
		t.Fatalf("fallback to the default endpoint: %v", err)
	}
	// Unless the default endpoint is disabled.
	s2 := newTestStore(t, func(c *Config) { c.RegistriesFile = regs; c.DisableDefaultEndpoint = true })
	if _, err := s2.Pull(ctx, upstream.host+"/team/other:v1", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("with the default endpoint disabled: err = %v, want not found at the mirror", err)
	}
}

func TestPullWildcardMirror(t *testing.T) {
	mirror := startRegistry(t, nil, false)
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "b", body: "busybox"}))
	mirror.push(t, mirror.host+"/library/busybox:latest", img)
	regs := writeFile(t, t.TempDir(), "registries.yaml", fmt.Sprintf("mirrors:\n  \"*\":\n    endpoint: [\"http://%s\"]\n", mirror.host))
	s := newTestStore(t, func(c *Config) { c.RegistriesFile = regs; c.DisableDefaultEndpoint = true })
	im, err := s.Pull(context.Background(), "busybox", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(im.RepoTags, []string{"docker.io/library/busybox:latest"}) {
		t.Errorf("RepoTags = %v", im.RepoTags)
	}
}

func TestPullTLSWithCAFile(t *testing.T) {
	reg := startRegistry(t, nil, true)
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "tls", body: "x"}))
	ref := reg.host + "/secure/app:v1"
	reg.push(t, ref, img)
	ctx := context.Background()

	if _, err := newTestStore(t, nil).Pull(ctx, ref, nil); err == nil {
		t.Fatal("pull from a registry with an unknown CA succeeded")
	}
	ca := writeFile(t, t.TempDir(), "ca.pem", string(pemCert(reg.srv.Certificate().Raw)))
	regs := writeFile(t, t.TempDir(), "registries.yaml", fmt.Sprintf("configs:\n  %q:\n    tls:\n      ca_file: %s\n", reg.host, ca))
	if _, err := newTestStore(t, func(c *Config) { c.RegistriesFile = regs }).Pull(ctx, ref, nil); err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
	insecure := writeFile(t, t.TempDir(), "registries.yaml", fmt.Sprintf("configs:\n  %q:\n    tls:\n      insecure_skip_verify: true\n", reg.host))
	if _, err := newTestStore(t, func(c *Config) { c.RegistriesFile = insecure }).Pull(ctx, ref, nil); err != nil {
		t.Fatalf("with insecure_skip_verify: %v", err)
	}
}

func TestPullNotFoundAndUnreachable(t *testing.T) {
	reg := startRegistry(t, nil, false)
	s := newTestStore(t, nil)
	ctx := context.Background()
	ref := reg.host + "/nope/app:v9"
	_, err := s.Pull(ctx, ref, nil)
	want := fmt.Sprintf(`failed to pull and unpack image %q: failed to resolve reference %q: %s: not found`, ref, ref, ref)
	if !errors.Is(err, ErrNotFound) || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	reg.srv.Close()
	_, err = s.Pull(ctx, ref, nil)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("unreachable registry: err = %v", err)
	}
}
