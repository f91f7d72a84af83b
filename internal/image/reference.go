package image

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// Reference is an image name in its fully qualified form, as containerd
// stores it: docker.io/library/busybox:latest.
type Reference struct {
	Domain string // registry host[:port], "docker.io" for Docker Hub
	Path   string // repository path, "library/busybox"
	Tag    string // "latest" when the name had neither tag nor digest
	Digest string // "sha256:…" when pinned by digest
}

// invalidNameError carries the parser's message in the kubelet's wording and
// matches ErrInvalidName.
type invalidNameError struct {
	image string
	err   error
}

func (e invalidNameError) Error() string {
	return fmt.Sprintf("couldn't parse image name %q: %v", e.image, e.err)
}

func (e invalidNameError) Is(target error) bool { return target == ErrInvalidName }

// ParseReference parses a name as a pod spec gives it ("busybox",
// "luksa/kubia:v1", "registry:5000/app@sha256:…"), applies Docker Hub's
// defaults and the default tag "latest".
func ParseReference(s string) (Reference, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Reference{}, invalidNameError{image: s, err: err}
	}
	r := Reference{Domain: reference.Domain(named), Path: reference.Path(named)}
	if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.Digest = d.Digest().String()
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// Name is the repository: docker.io/library/busybox.
func (r Reference) Name() string { return r.Domain + "/" + r.Path }

// String is the full reference, tag and digest included.
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// pullRef is what a registry is asked for: the digest when there is one,
// else the tag.
func (r Reference) pullRef() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// tagName is "name:tag", or "" for a reference pinned only by digest.
func (r Reference) tagName() string {
	if r.Tag == "" {
		return ""
	}
	return r.Name() + ":" + r.Tag
}

// digestName is "name@digest" for a manifest digest.
func (r Reference) digestName(digest string) string { return r.Name() + "@" + digest }

// FamiliarName shortens a stored name the way docker prints it
// ("docker.io/library/busybox:latest" → "busybox:latest").
func FamiliarName(s string) string {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return reference.FamiliarString(named)
}

// isDigest reports whether s looks like "sha256:<64 hex>".
func isDigest(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	return ok && len(hex) == 64 && strings.Trim(hex, "0123456789abcdef") == ""
}
