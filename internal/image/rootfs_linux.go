package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A container's directory under <root>/containers/<id>: the image it uses,
// the overlay upper and work dirs and the mount point.
const (
	fileImage  = "image"
	dirUpper   = "upper"
	dirWork    = "work"
	dirRootfs  = "rootfs"
	pageLimit  = 4095 // mount(2) copies at most one page of options
	umountWait = 2 * time.Second
)

var containerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func validContainerID(id string) error {
	if !containerIDPattern.MatchString(id) {
		return fmt.Errorf("container id %q: use 1-128 letters, digits, '_', '.' or '-'", id)
	}
	return nil
}

// PrepareRootfs mounts the root filesystem of a container from an image
// (reference or ID) and returns the mount point. The image's layers are the
// overlay's lowerdirs, top layer first; writes land in the container's own
// upper dir. From now on the image counts as in use, also across restarts,
// until RemoveRootfs. Calling it again for a mounted container returns the
// same path.
func (s *Store) PrepareRootfs(ctx context.Context, containerID, image string) (string, error) {
	if err := validContainerID(containerID); err != nil {
		return "", err
	}
	dir := s.path(dirContainers, containerID)
	s.mu.Lock()
	im, err := s.lookupLocked(image)
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	cur, existed := s.users[containerID]
	if existed && cur != im.ID {
		s.mu.Unlock()
		return "", fmt.Errorf("container %s already has a root filesystem from image %s", containerID, cur)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.mu.Unlock()
		return "", fmt.Errorf("prepare rootfs for %s: %w", containerID, err)
	}
	// No fsync: the record must survive a kserver restart, which the page
	// cache guarantees; after a power loss the container is gone anyway.
	if err := os.WriteFile(filepath.Join(dir, fileImage), []byte(im.ID+"\n"), 0o600); err != nil {
		s.mu.Unlock()
		return "", err
	}
	s.users[containerID] = im.ID
	im.LastUsed = s.now()
	layers := slices.Clone(im.Layers)
	s.mu.Unlock()

	rootfs, err := s.mountRootfs(ctx, dir, layers)
	if err != nil && !existed {
		if rerr := s.RemoveRootfs(containerID); rerr != nil {
			s.log.Warn("cannot clean up a failed rootfs", "container", containerID, "err", rerr)
		}
	}
	if err != nil {
		return "", fmt.Errorf("mount rootfs for container %s: %w", containerID, err)
	}
	return rootfs, nil
}

func (s *Store) mountRootfs(ctx context.Context, dir string, layers []string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	rootfs := filepath.Join(dir, dirRootfs)
	for _, d := range []string{dirUpper, dirWork, dirRootfs} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	if mounted(rootfs) {
		return rootfs, nil
	}
	opts, err := s.overlayOptions(layers, dir)
	if err != nil {
		return "", err
	}
	if err := unix.Mount("overlay", rootfs, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount overlay: %w", err)
	}
	return rootfs, nil
}

// overlayOptions builds "lowerdir=top:…:bottom,upperdir=…,workdir=…". Layers
// are named by their short links so that deep images fit in one page.
func (s *Store) overlayOptions(layers []string, dir string) (string, error) {
	lower := make([]string, 0, len(layers))
	for i := len(layers) - 1; i >= 0; i-- {
		lower = append(lower, s.path(dirLinks, shortID(layers[i])))
	}
	if len(lower) == 0 {
		lower = append(lower, s.path(dirEmpty))
	}
	for _, p := range append(slices.Clone(lower), dir) {
		if strings.ContainsAny(p, ",:") {
			return "", fmt.Errorf("overlay path %q contains ',' or ':'", p)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
		strings.Join(lower, ":"), filepath.Join(dir, dirUpper), filepath.Join(dir, dirWork))
	if len(opts) > pageLimit {
		return "", fmt.Errorf("image has %d layers: the overlay mount options need %d bytes, more than the kernel's %d", len(layers), len(opts), pageLimit)
	}
	return opts, nil
}

// RootfsPath is where PrepareRootfs mounts a container's root filesystem.
func (s *Store) RootfsPath(containerID string) string {
	return s.path(dirContainers, containerID, dirRootfs)
}

// RemoveRootfs unmounts a container's root filesystem and deletes its upper
// dir. Removing a container that has none is not an error.
func (s *Store) RemoveRootfs(containerID string) error {
	if err := validContainerID(containerID); err != nil {
		return err
	}
	dir := s.path(dirContainers, containerID)
	if err := unmount(filepath.Join(dir, dirRootfs)); err != nil {
		return fmt.Errorf("remove rootfs of %s: %w", containerID, err)
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("remove rootfs of %s: %w", containerID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.users[containerID]; ok {
		if im, ok := s.idx.Images[id]; ok {
			im.LastUsed = s.now()
		}
		delete(s.users, containerID)
	}
	return nil
}

// Containers lists the containers with a root filesystem and their image IDs.
func (s *Store) Containers() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.users))
	for c, im := range s.users {
		out[c] = im
	}
	return out
}

// loadContainers reads which image each container uses. A container dir
// without its image record is what a crash during PrepareRootfs leaves; it
// is removed.
func (s *Store) loadContainers() error {
	entries, err := os.ReadDir(s.path(dirContainers))
	if err != nil {
		return fmt.Errorf("read containers: %w", err)
	}
	for _, e := range entries {
		dir := s.path(dirContainers, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, fileImage))
		id := strings.TrimSpace(string(b))
		_, known := s.idx.Images[id]
		if err == nil && known {
			s.users[e.Name()] = id
			continue
		}
		s.log.Warn("removing container rootfs with no image record", "container", e.Name())
		if err := unmount(filepath.Join(dir, dirRootfs)); err != nil {
			return err
		}
		if err := removeTree(dir); err != nil {
			return err
		}
	}
	return nil
}

// mounted reports whether p is a mount point (its device differs from its
// parent's).
func mounted(p string) bool {
	var st, parent unix.Stat_t
	if unix.Lstat(p, &st) != nil || unix.Lstat(filepath.Dir(p), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// unmount detaches p if it is mounted, retrying briefly while it is busy and
// detaching lazily as a last resort.
func unmount(p string) error {
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(umountWait)
	for mounted(p) {
		err := unix.Unmount(p, 0)
		switch {
		case err == nil:
		case errors.Is(err, unix.EINVAL): // not a mount point after all
			return nil
		case errors.Is(err, unix.EBUSY) && time.Now().Before(deadline):
			time.Sleep(50 * time.Millisecond)
		case errors.Is(err, unix.EBUSY):
			return unix.Unmount(p, unix.MNT_DETACH)
		default:
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
	return nil
}
