package image

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ImageConfig is what the runtime builds a container from when the pod spec
// leaves it out: the image's entrypoint, cmd, env, working dir and user.
type ImageConfig struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string // "KEY=value"
	WorkingDir   string
	User         string   // "uid", "uid:gid", "name" or "name:group"
	ExposedPorts []string // "8080/tcp", sorted
	Volumes      []string // sorted
	StopSignal   string
	Labels       map[string]string
}

// Command combines an image's entrypoint and cmd with a container's command
// and args the way Kubernetes does: command replaces the entrypoint (and
// drops the image's cmd); args replace the cmd.
func (c ImageConfig) Command(command, args []string) []string {
	entry, cmd := c.Entrypoint, c.Cmd
	if len(command) > 0 {
		entry, cmd = command, nil
	}
	if len(args) > 0 {
		cmd = args
	}
	return append(slices.Clone(entry), cmd...)
}

// ImageConfig returns the configuration of a stored image (by reference or ID).
func (s *Store) ImageConfig(image string) (ImageConfig, error) {
	cf, err := s.configFile(image)
	if err != nil {
		return ImageConfig{}, err
	}
	c := cf.Config
	out := ImageConfig{
		Entrypoint: slices.Clone(c.Entrypoint),
		Cmd:        slices.Clone(c.Cmd),
		Env:        slices.Clone(c.Env),
		WorkingDir: c.WorkingDir,
		User:       c.User,
		StopSignal: c.StopSignal,
		Labels:     maps.Clone(c.Labels),
	}
	out.ExposedPorts = slices.Sorted(maps.Keys(c.ExposedPorts))
	out.Volumes = slices.Sorted(maps.Keys(c.Volumes))
	return out, nil
}

func (s *Store) configFile(image string) (*v1.ConfigFile, error) {
	s.mu.Lock()
	im, err := s.lookupLocked(image)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	id := im.ID
	if cf, ok := s.configs[id]; ok {
		s.mu.Unlock()
		return cf, nil
	}
	s.mu.Unlock()
	b, err := s.readBlob(id)
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", id, err)
	}
	s.mu.Lock()
	s.configs[id] = cf
	s.mu.Unlock()
	return cf, nil
}
