package image

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Config tells a Store where its data lives and how it behaves.
type Config struct {
	// Root holds the store: blobs, unpacked layers, container root
	// filesystems and the index (docs/image.md describes the layout).
	Root string
	// ImportDir is the air-gap folder whose *.tar archives ImportDir reads.
	ImportDir string
	// RegistriesFile is the k3s-style registries.yaml with mirrors,
	// rewrites, credentials and TLS settings. A missing file means no
	// mirrors; "" disables the lookup.
	RegistriesFile string
	// DisableDefaultEndpoint stops pulls from falling back to a registry's
	// own endpoint after its mirrors (k3s --disable-default-registry-endpoint).
	DisableDefaultEndpoint bool
	// OfflineFallback lets a container with imagePullPolicy Always start
	// from the local copy of its image when no endpoint of the registry can
	// be reached (upstream fails with ErrImagePull). It is what makes
	// manifests that name :latest images work on an offline node, with the
	// demo images or air-gap archives.
	OfflineFallback bool
	// Platform selects the image of a multi-arch index; the zero value means
	// the platform this binary runs on.
	Platform Platform
	// GC is the image garbage-collection policy.
	GC GCPolicy
	// DiskUsage reports the capacity and free bytes of the file system
	// holding path; nil means statfs(2). Tests replace it.
	DiskUsage func(path string) (capacity, available uint64, err error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// GCPolicy mirrors the kubelet's image GC settings.
type GCPolicy struct {
	// HighThresholdPercent: disk usage at or above it triggers a collection
	// (kubelet --image-gc-high-threshold, 85).
	HighThresholdPercent int
	// LowThresholdPercent: a collection frees space down to it
	// (--image-gc-low-threshold, 80).
	LowThresholdPercent int
	// MinAge keeps images younger than this (--minimum-image-ttl-duration, 2m).
	MinAge time.Duration
	// Period is how often Run checks the disk (the kubelet uses 5m).
	Period time.Duration
}

// DefaultGCPolicy returns the kubelet's defaults.
func DefaultGCPolicy() GCPolicy {
	return GCPolicy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute, Period: 5 * time.Minute}
}

// DefaultRegistriesFile is where kserver reads registries.yaml from.
const DefaultRegistriesFile = "/etc/kserver/registries.yaml"

// DefaultConfig returns the layout used under a kserver data dir:
// archives in <data-dir>/agent/images, the store in <data-dir>/agent/images/store.
func DefaultConfig(dataDir string) Config {
	images := filepath.Join(dataDir, "agent", "images")
	return Config{
		Root:            filepath.Join(images, "store"),
		ImportDir:       images,
		RegistriesFile:  DefaultRegistriesFile,
		OfflineFallback: true,
		GC:              DefaultGCPolicy(),
	}
}

// Validate checks the configuration without touching the disk.
func (c Config) Validate() error {
	var errs []error
	if !filepath.IsAbs(c.Root) {
		errs = append(errs, fmt.Errorf("image store root %q is not an absolute path", c.Root))
	}
	if c.ImportDir != "" && !filepath.IsAbs(c.ImportDir) {
		errs = append(errs, fmt.Errorf("image import dir %q is not an absolute path", c.ImportDir))
	}
	g := c.GC
	if g.HighThresholdPercent < 0 || g.HighThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("image gc high threshold %d%% is not in [0, 100]", g.HighThresholdPercent))
	}
	if g.LowThresholdPercent < 0 || g.LowThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("image gc low threshold %d%% is not in [0, 100]", g.LowThresholdPercent))
	}
	if g.LowThresholdPercent > g.HighThresholdPercent {
		errs = append(errs, fmt.Errorf("image gc low threshold %d%% is above the high threshold %d%%", g.LowThresholdPercent, g.HighThresholdPercent))
	}
	if g.MinAge < 0 || g.Period < 0 {
		errs = append(errs, errors.New("image gc durations must not be negative"))
	}
	if c.Platform != (Platform{}) {
		if err := c.Platform.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
