package image

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Store is a node's image store. All methods are safe for concurrent use.
type Store struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	usage    func(string) (uint64, uint64, error)
	regs     *Registries
	platform Platform
	backoff  *BackOff
	lockFile *os.File

	mu       sync.Mutex
	idx      index
	names    map[string]string         // repo tag or repo digest → image ID
	users    map[string]string         // container ID → image ID
	configs  map[string]*v1.ConfigFile // parsed configs by image ID
	inflight map[string]*flight        // unpacks by diffID
	// pending holds the layers and blobs of images being stored: until the
	// image is recorded nothing lists them, yet they must not be collected.
	pending    map[string]int
	transports map[string]http.RoundTripper
}

// flight lets concurrent callers wait for one unpack.
type flight struct {
	done chan struct{}
	err  error
}

// Image is what the store reports about one image.
type Image struct {
	ID          string    // "sha256:<config digest>", the CRI image ID
	RepoTags    []string  // "docker.io/library/busybox:latest"
	RepoDigests []string  // "docker.io/library/busybox@sha256:…"
	Size        int64     // bytes of config and compressed layers
	Platform    Platform  // what the image was built for
	Layers      []string  // diffIDs, bottom first
	Created     time.Time // when the store got it
	LastUsed    time.Time // last time a container root filesystem used it
}

// Ref is what the kubelet reports as a container's imageID: the first repo
// digest, or the image ID when the image has none.
func (im Image) Ref() string {
	if len(im.RepoDigests) > 0 {
		return im.RepoDigests[0]
	}
	return im.ID
}

// Name is what the kubelet reports as a container's image: the first repo
// tag, else the first repo digest, else the ID.
func (im Image) Name() string {
	if len(im.RepoTags) > 0 {
		return im.RepoTags[0]
	}
	return im.Ref()
}

// Directories under Root.
const (
	dirBlobs      = "blobs/sha256"
	dirLayers     = "layers"
	dirLinks      = "l"
	dirContainers = "containers"
	dirTmp        = "tmp"
	dirEmpty      = "empty"
	fileIndex     = "index.json"
	fileLock      = "lock"
)

// Open opens (creating if needed) the store under cfg.Root, reads its index,
// drops what an interrupted operation left behind and reads registries.yaml.
// It starts nothing; Run starts the periodic garbage collection.
func Open(cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		cfg:        cfg,
		log:        logger.With("component", "image"),
		now:        cfg.Now,
		usage:      cfg.DiskUsage,
		platform:   cfg.Platform,
		names:      map[string]string{},
		users:      map[string]string{},
		configs:    map[string]*v1.ConfigFile{},
		inflight:   map[string]*flight{},
		pending:    map[string]int{},
		transports: map[string]http.RoundTripper{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.usage == nil {
		s.usage = statfsUsage
	}
	if s.platform == (Platform{}) {
		s.platform = HostPlatform()
	}
	s.platform = s.platform.normalize()
	s.backoff = NewBackOff(s.now)
	regs, err := LoadRegistries(cfg.RegistriesFile)
	if err != nil {
		return nil, err
	}
	s.regs = regs
	for _, d := range []string{dirBlobs, dirLayers, dirLinks, dirContainers, dirEmpty} {
		if err := os.MkdirAll(filepath.Join(cfg.Root, d), 0o700); err != nil {
			return nil, fmt.Errorf("create image store: %w", err)
		}
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		s.lockFile.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) lock() error {
	f, err := os.OpenFile(s.path(fileLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock image store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("image store %s is in use by another process: %w", s.cfg.Root, err)
	}
	s.lockFile = f
	return nil
}

// Close writes the last-use times and releases the store.
func (s *Store) Close() error {
	s.mu.Lock()
	err := s.saveLocked()
	s.mu.Unlock()
	return errors.Join(err, s.lockFile.Close())
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.cfg.Root}, elem...)...)
}

func (s *Store) blobPath(digest string) string {
	return s.path(dirBlobs, strings.TrimPrefix(digest, "sha256:"))
}

func (s *Store) layerDir(diffID string) string {
	return s.path(dirLayers, strings.TrimPrefix(diffID, "sha256:"))
}

// load reads the index and reconciles it with the disk: unfinished unpacks
// and layers no image lists are removed, images missing a layer or their
// config are dropped.
func (s *Store) load() error {
	if err := os.RemoveAll(s.path(dirTmp)); err != nil {
		return fmt.Errorf("clear image store tmp: %w", err)
	}
	if err := os.MkdirAll(s.path(dirTmp), 0o700); err != nil {
		return fmt.Errorf("create image store: %w", err)
	}
	idx, err := loadIndex(s.path(fileIndex))
	if err != nil {
		return err
	}
	s.idx = idx
	for id, im := range idx.Images {
		if missing := s.missingParts(im); missing != "" {
			s.log.Warn("dropping damaged image", "image", id, "missing", missing)
			delete(idx.Images, id)
		}
	}
	if err := s.loadContainers(); err != nil {
		return err
	}
	s.rebuildNamesLocked()
	s.removeUnusedLayersLocked()
	return s.saveLocked()
}

func (s *Store) missingParts(im *imageRecord) string {
	if _, err := os.Stat(s.blobPath(im.ID)); err != nil {
		return "config " + im.ID
	}
	for _, l := range im.Layers {
		if _, ok := s.idx.Layers[l]; !ok {
			return "layer " + l
		}
		if _, err := os.Stat(filepath.Join(s.layerDir(l), "fs")); err != nil {
			return "layer " + l
		}
	}
	return ""
}

func (s *Store) saveLocked() error {
	return s.idx.save(s.path(fileIndex))
}

func (s *Store) rebuildNamesLocked() {
	clear(s.names)
	for id, im := range s.idx.Images {
		for _, n := range im.RepoTags {
			s.names[n] = id
		}
		for _, n := range im.RepoDigests {
			s.names[n] = id
		}
	}
}

// removeUnusedLayersLocked deletes layers that no image lists, on disk and
// in the index, and returns the bytes freed.
func (s *Store) removeUnusedLayersLocked() int64 {
	users := s.idx.layerUsers()
	var freed int64
	for id, l := range s.idx.Layers {
		if users[id] == 0 && s.pending[id] == 0 {
			freed += l.DiskSize
			delete(s.idx.Layers, id)
		}
	}
	entries, _ := os.ReadDir(s.path(dirLayers))
	for _, e := range entries {
		id := "sha256:" + e.Name()
		if _, ok := s.idx.Layers[id]; ok || s.pending[id] > 0 {
			continue
		}
		if err := removeTree(s.path(dirLayers, e.Name())); err != nil {
			s.log.Warn("cannot remove unused layer", "layer", id, "err", err)
		}
		os.Remove(s.path(dirLinks, shortID(id)))
	}
	return freed
}

// removeTree deletes a directory tree, making read-only directories
// writable first so that a non-root caller can remove what it unpacked.
func removeTree(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// shortID names a layer's link in <root>/l: short names keep the overlay
// mount options under the kernel's one-page limit for deep images.
func shortID(diffID string) string {
	h := strings.TrimPrefix(diffID, "sha256:")
	if len(h) > 16 {
		h = h[:16]
	}
	return h
}

// Get finds a local image by reference ("busybox", "luksa/kubia:v1",
// "name@sha256:…") or by ID ("sha256:…").
func (s *Store) Get(ref string) (Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.lookupLocked(ref)
	if err != nil {
		return Image{}, err
	}
	return im.view(), nil
}

func (s *Store) lookupLocked(ref string) (*imageRecord, error) {
	if isDigest(ref) {
		if im, ok := s.idx.Images[ref]; ok {
			return im, nil
		}
		return nil, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	key := r.tagName()
	if r.Digest != "" {
		key = r.digestName(r.Digest)
	}
	if id, ok := s.names[key]; ok {
		return s.idx.Images[id], nil
	}
	return nil, fmt.Errorf("image %s: %w", r, ErrNotFound)
}

func (im *imageRecord) view() Image {
	return Image{
		ID:          im.ID,
		RepoTags:    slices.Clone(im.RepoTags),
		RepoDigests: slices.Clone(im.RepoDigests),
		Size:        im.Size,
		Platform:    im.Platform,
		Layers:      slices.Clone(im.Layers),
		Created:     im.Created,
		LastUsed:    im.LastUsed,
	}
}

// List returns every image, largest first (the order Node status uses).
func (s *Store) List() []Image {
	s.mu.Lock()
	out := make([]Image, 0, len(s.idx.Images))
	for _, im := range s.idx.Images {
		out = append(out, im.view())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Image) int {
		if c := cmp.Compare(b.Size, a.Size); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Remove deletes an image by reference or ID. An image backing a container
// root filesystem is refused with ErrInUse. Layers no other image uses are
// deleted with it.
func (s *Store) Remove(ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.lookupLocked(ref)
	if err != nil {
		return err
	}
	_, err = s.removeLocked(im.ID)
	return err
}

// hold protects layers and blobs of an image being stored from collection
// until the returned release is called.
func (s *Store) hold(digests ...string) (release func()) {
	s.mu.Lock()
	for _, d := range digests {
		s.pending[d]++
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		for _, d := range digests {
			if s.pending[d]--; s.pending[d] <= 0 {
				delete(s.pending, d)
			}
		}
		s.mu.Unlock()
	}
}

func (s *Store) inUseLocked(id string) bool {
	for _, img := range s.users {
		if img == id {
			return true
		}
	}
	return false
}

// removeLocked deletes one image and its unshared layers; it returns the
// bytes freed on disk.
func (s *Store) removeLocked(id string) (int64, error) {
	if s.inUseLocked(id) {
		return 0, fmt.Errorf("remove image %s: %w", id, ErrInUse)
	}
	delete(s.idx.Images, id)
	delete(s.configs, id)
	s.rebuildNamesLocked()
	freed := s.removeUnusedLayersLocked()
	if err := s.saveLocked(); err != nil {
		return freed, err
	}
	s.removeUnusedBlobsLocked()
	s.log.Info("removed image", "image", id, "freed", freed)
	return freed, nil
}

// removeUnusedBlobsLocked deletes manifests and configs no image names.
func (s *Store) removeUnusedBlobsLocked() {
	keep := map[string]bool{}
	for _, im := range s.idx.Images {
		for _, d := range []string{im.ID, im.Manifest, im.Target} {
			keep[strings.TrimPrefix(d, "sha256:")] = true
		}
	}
	entries, _ := os.ReadDir(s.path(dirBlobs))
	for _, e := range entries {
		if !keep[e.Name()] && s.pending["sha256:"+e.Name()] == 0 {
			os.Remove(s.path(dirBlobs, e.Name()))
		}
	}
}
