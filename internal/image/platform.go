package image

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Platform names an OS/architecture/variant triple as image indexes do:
// linux/amd64, linux/arm64 (variant v8 implied), linux/arm/v7.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// HostPlatform is the platform this binary was built for. 32-bit ARM builds
// report v7 (the release builds use GOARM=7).
func HostPlatform() Platform {
	p := Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch p.Architecture {
	case "arm":
		p.Variant = "v7"
	case "arm64":
		p.Variant = "v8"
	}
	return p
}

// ParsePlatform reads "os/arch[/variant]".
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("platform %q is not os/arch[/variant]", s)
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	p = p.normalize()
	return p, p.validate()
}

func (p Platform) String() string {
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}

func (p Platform) validate() error {
	if p.OS == "" || p.Architecture == "" {
		return fmt.Errorf("platform %q needs an OS and an architecture", p.String())
	}
	return nil
}

// normalize maps the aliases uname and distributions use onto the names image
// indexes use, and fills in the implied variants.
func (p Platform) normalize() Platform {
	p.OS = strings.ToLower(p.OS)
	switch strings.ToLower(p.Architecture) {
	case "x86_64", "x86-64", "amd64":
		p.Architecture = "amd64"
	case "aarch64", "arm64":
		p.Architecture = "arm64"
	case "armhf", "armv7l", "armv7":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel", "armv6l", "armv6":
		p.Architecture, p.Variant = "arm", "v6"
	case "i386", "i686", "386":
		p.Architecture = "386"
	default:
		p.Architecture = strings.ToLower(p.Architecture)
	}
	if p.Architecture == "arm64" && p.Variant == "" {
		p.Variant = "v8"
	}
	if p.Architecture == "arm" && p.Variant == "" {
		p.Variant = "v7"
	}
	if p.Architecture == "amd64" && p.Variant == "v1" {
		p.Variant = ""
	}
	return p
}

// rank says how well an image built for c runs on p: 0 is no match, higher
// is better. An exact variant wins; older ARM variants run on newer cores
// (v7 runs v6 and v5 binaries), as containerd's platform matcher allows.
func (p Platform) rank(c Platform) int {
	p, c = p.normalize(), c.normalize()
	if p.OS != c.OS || p.Architecture != c.Architecture {
		return 0
	}
	if p.Variant == c.Variant {
		return 100
	}
	if p.Architecture != "arm" {
		return 0
	}
	want, have := armLevel(p.Variant), armLevel(c.Variant)
	if have == 0 || want == 0 || have > want {
		return 0
	}
	return 50 + have
}

func armLevel(v string) int {
	switch v {
	case "v5":
		return 5
	case "v6":
		return 6
	case "v7":
		return 7
	case "v8":
		return 8
	}
	return 0
}

// pickManifest returns the descriptor of the index entry that fits p best.
func (p Platform) pickManifest(idx *v1.IndexManifest) (v1.Descriptor, error) {
	best, bestRank := -1, 0
	for i, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		c := Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}
		if r := p.rank(c); r > bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		var have []string
		for _, d := range idx.Manifests {
			if d.Platform != nil && d.Platform.OS != "unknown" {
				c := Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}
				have = append(have, c.String())
			}
		}
		return v1.Descriptor{}, fmt.Errorf("this node runs %s, the image is built for %s: %w: %w", p, strings.Join(have, ", "), ErrPlatform, ErrNotFound)
	}
	return idx.Manifests[best], nil
}

// fits reports whether an image config's platform runs on p. Configs that
// name no architecture are accepted.
func (p Platform) fits(cfg *v1.ConfigFile) bool {
	if cfg.Architecture == "" {
		return true
	}
	c := Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	if c.OS == "" {
		c.OS = p.OS
	}
	return p.rank(c) > 0
}
