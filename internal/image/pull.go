package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Pull fetches an image from its registry (or the mirrors registries.yaml
// names for it) and stores it. keyring holds the pod's pull secrets and may
// be nil. The returned error reads like containerd's ("failed to pull and
// unpack image ...") and matches ErrNotFound or ErrUnauthorized when the
// registry said so.
func (s *Store) Pull(ctx context.Context, image string, keyring *Keyring) (Image, error) {
	ref, err := ParseReference(image)
	if err != nil {
		return Image{}, err
	}
	src, err := s.fetch(ctx, ref, keyring)
	if err != nil {
		return Image{}, fmt.Errorf("failed to pull and unpack image %q: %w", ref.String(), err)
	}
	start := s.now()
	im, err := s.ingest(ctx, src)
	if err != nil {
		return Image{}, fmt.Errorf("failed to pull and unpack image %q: %w", ref.String(), err)
	}
	s.log.Info("pulled image", "image", ref.String(), "id", im.ID, "size", im.Size, "unpack", s.now().Sub(start).Round(time.Millisecond))
	return im, nil
}

// fetch resolves ref at each endpoint in turn and returns the first that
// serves it. The layers are read later, while they are unpacked.
func (s *Store) fetch(ctx context.Context, ref Reference, keyring *Keyring) (source, error) {
	var last error
	for _, ep := range s.regs.endpoints(ref, s.cfg.DisableDefaultEndpoint) {
		for _, auth := range s.auths(ep, ref, keyring) {
			src, err := s.fetchFrom(ctx, ep, ref, auth)
			if err == nil {
				return src, nil
			}
			last = err
			if ctx.Err() != nil {
				return source{}, last
			}
			if !errors.Is(err, ErrUnauthorized) {
				break // other credentials will not help at this endpoint
			}
		}
		if ep.mirror {
			s.log.Debug("mirror endpoint failed", "image", ref.String(), "endpoint", ep.host, "err", last)
		}
	}
	return source{}, last
}

// auths lists the authenticators to try at an endpoint: the pod's pull
// secrets for the registry's own endpoint (each in turn, as the kubelet
// does), else the host's registries.yaml login, else anonymous.
func (s *Store) auths(ep endpoint, ref Reference, keyring *Keyring) []authn.Authenticator {
	var out []authn.Authenticator
	if !ep.mirror {
		for _, c := range keyring.Lookup(ref) {
			out = append(out, c.authenticator())
		}
	}
	if len(out) > 0 {
		return out
	}
	if c, ok := s.regs.config(ep.host); ok && c.Auth != nil {
		a := c.Auth
		return []authn.Authenticator{authn.FromConfig(authn.AuthConfig{
			Username:      a.Username,
			Password:      a.Password,
			Auth:          a.Auth,
			IdentityToken: firstNonEmpty(a.IdentityToken, a.IdentityTokenAlt),
		})}
	}
	return []authn.Authenticator{authn.Anonymous}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Store) fetchFrom(ctx context.Context, ep endpoint, ref Reference, auth authn.Authenticator) (source, error) {
	var nopts []name.Option
	if ep.plainHTTP {
		nopts = append(nopts, name.Insecure)
	}
	repo, err := name.NewRepository(ep.host+"/"+ep.repo, nopts...)
	if err != nil {
		return source{}, fmt.Errorf("endpoint %s: %w", ep.host, err)
	}
	var r name.Reference = repo.Tag(ref.Tag)
	if ref.Digest != "" {
		r = repo.Digest(ref.Digest)
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithTransport(s.transport(ep.host)),
		remote.WithUserAgent("kserver"),
		// The kubelet's back-off does the retrying; fail fast here.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 2}),
	}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return source{}, resolveError(ref, err)
	}
	img, err := s.platformImage(desc)
	if err != nil {
		return source{}, err
	}
	return imageSource(img, desc.Digest.String(), ref)
}

// platformImage picks this node's image out of an index.
func (s *Store) platformImage(desc *remote.Descriptor) (v1.Image, error) {
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		child, err := s.platform.pickManifest(im)
		if err != nil {
			return nil, err
		}
		return idx.Image(child.Digest)
	case desc.MediaType.IsImage():
		return desc.Image()
	}
	return nil, fmt.Errorf("%s is not an image (media type %s)", desc.Digest, desc.MediaType)
}

// imageSource turns a go-containerregistry image into something ingest reads.
func imageSource(img v1.Image, target string, ref Reference) (source, error) {
	manifest, err := img.RawManifest()
	if err != nil {
		return source{}, err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return source{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return source{}, err
	}
	src := source{config: config, manifest: manifest, target: target, repos: []Reference{ref}}
	if ref.Tag != "" && ref.Digest == "" {
		src.tags = []Reference{ref}
	}
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return source{}, err
		}
		src.layers = append(src.layers, blob{
			digest:    l.Digest.String(),
			size:      l.Size,
			mediaType: l.MediaType,
			open:      layer.Compressed,
		})
	}
	return src, nil
}

// resolveError words a registry's answer like containerd does and tags it
// with a sentinel.
func resolveError(ref Reference, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound || hasCode(te, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode):
			return fmt.Errorf("failed to resolve reference %q: %s: %w", ref.String(), ref.String(), ErrNotFound)
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden ||
			hasCode(te, transport.UnauthorizedErrorCode, transport.DeniedErrorCode):
			return fmt.Errorf("failed to resolve reference %q: pull access denied, repository does not exist or may require authorization: %s: %w",
				ref.String(), te.Error(), ErrUnauthorized)
		}
	}
	var ne net.Error
	if te == nil && errors.As(err, &ne) {
		err = unreachableError{err}
	}
	return fmt.Errorf("failed to resolve reference %q: %w", ref.String(), err)
}

func hasCode(te *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

// transport returns the HTTP transport for a host, with its TLS settings.
func (s *Store) transport(host string) http.RoundTripper {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.transports[host]; ok {
		return t
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if tc := s.regs.tlsConfig(host); tc != nil {
		t.TLSClientConfig = tc.Clone()
	}
	s.transports[host] = t
	return t
}
