package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Archive suffixes ImportDir picks up, as k3s does for its air-gap folder.
var archiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.zst"}

// ImportDir imports every archive in the import folder (Config.ImportDir),
// skipping files imported before and unchanged since. A bad archive is
// logged and skipped; the error joins all failures.
func (s *Store) ImportDir(ctx context.Context) ([]Image, error) {
	if s.cfg.ImportDir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(s.cfg.ImportDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image import dir: %w", err)
	}
	var out []Image
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !slices.ContainsFunc(archiveSuffixes, func(suf string) bool { return strings.HasSuffix(e.Name(), suf) }) {
			continue
		}
		imgs, err := s.Import(ctx, filepath.Join(s.cfg.ImportDir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, imgs...)
	}
	return out, errors.Join(errs...)
}

// Import reads a docker-save or OCI archive (plain, gzip or zstd) and stores
// its images under the names it gives them. An archive imported before and
// unchanged since (same size and modification time) is not read again.
func (s *Store) Import(ctx context.Context, file string) ([]Image, error) {
	file, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	if imgs, ok := s.unchangedArchive(file, fi); ok {
		return imgs, nil
	}
	f, cleanup, err := s.openArchive(file)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	defer cleanup()
	ti, err := indexTar(f)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	var srcs []source
	switch {
	case ti.has("manifest.json"):
		srcs, err = ti.dockerSources(s.log)
	case ti.has("index.json"):
		srcs, err = ti.ociSources(s.platform, s.log)
	default:
		err = ErrBadArchive
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	var out []Image
	for _, src := range srcs {
		im, err := s.ingest(ctx, src)
		if errors.Is(err, ErrPlatform) {
			// Archives may carry images for other nodes; skip those.
			s.log.Warn("skipping image for another platform", "file", file, "tags", src.tagNames(), "err", err)
			continue
		}
		if err != nil {
			return out, fmt.Errorf("import %s: %w", file, err)
		}
		out = append(out, im)
	}
	s.rememberArchive(file, fi, out)
	s.log.Info("imported image archive", "file", file, "images", len(out))
	return out, nil
}

func (s *Store) unchangedArchive(file string, fi os.FileInfo) ([]Image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.idx.Archives[file]
	if !ok || a.Size != fi.Size() || !a.ModTime.Equal(fi.ModTime()) {
		return nil, false
	}
	var out []Image
	for _, id := range a.Images {
		im, ok := s.idx.Images[id]
		if !ok {
			return nil, false
		}
		out = append(out, im.view())
	}
	return out, true
}

func (s *Store) rememberArchive(file string, fi os.FileInfo, imgs []Image) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &archiveRecord{Size: fi.Size(), ModTime: fi.ModTime()}
	for _, im := range imgs {
		a.Images = append(a.Images, im.ID)
	}
	s.idx.Archives[file] = a
	if err := s.saveLocked(); err != nil {
		s.log.Warn("cannot save image index", "err", err)
	}
}

// openArchive opens a plain tar as is; a compressed one is first expanded
// into the store's tmp dir, since reading blobs needs random access.
func (s *Store) openArchive(file string) (*os.File, func(), error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(f)
	kind, err := compression(br)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if kind == "" {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	defer f.Close()
	plain, err := decompress(br)
	if err != nil {
		return nil, nil, err
	}
	defer plain.Close()
	tmp, err := os.CreateTemp(s.path(dirTmp), "archive-*.tar")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, plain); err != nil {
		cleanup()
		return nil, nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, nil, err
	}
	return tmp, cleanup, nil
}

// tarIndex maps the entries of a tar file to their byte ranges.
type tarIndex struct {
	f       *os.File
	entries map[string]tarEntry
}

type tarEntry struct {
	offset, size int64
	link         string // hard or symbolic link target, resolved on read
}

func indexTar(f *os.File) (*tarIndex, error) {
	ti := &tarIndex{f: f, entries: map[string]tarEntry{}}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			ti.entries[name] = tarEntry{offset: off, size: hdr.Size}
		case tar.TypeSymlink:
			ti.entries[name] = tarEntry{link: path.Join(path.Dir(name), hdr.Linkname)}
		case tar.TypeLink:
			ti.entries[name] = tarEntry{link: path.Clean(hdr.Linkname)}
		}
	}
	return ti, nil
}

func (ti *tarIndex) has(name string) bool { _, ok := ti.entries[name]; return ok }

func (ti *tarIndex) entry(name string) (tarEntry, error) {
	name = path.Clean(strings.TrimPrefix(name, "./"))
	for range 8 {
		e, ok := ti.entries[name]
		if !ok {
			return tarEntry{}, fmt.Errorf("archive has no %s: %w", name, ErrBadArchive)
		}
		if e.link == "" {
			return e, nil
		}
		name = e.link
	}
	return tarEntry{}, fmt.Errorf("archive entry %s: too many links: %w", name, ErrBadArchive)
}

func (ti *tarIndex) open(name string) (io.ReadCloser, int64, error) {
	e, err := ti.entry(name)
	if err != nil {
		return nil, 0, err
	}
	return io.NopCloser(io.NewSectionReader(ti.f, e.offset, e.size)), e.size, nil
}

func (ti *tarIndex) read(name string) ([]byte, error) {
	rc, size, err := ti.open(name)
	if err != nil {
		return nil, err
	}
	if size > 64<<20 {
		return nil, fmt.Errorf("archive entry %s is too large for metadata: %w", name, ErrBadArchive)
	}
	return io.ReadAll(rc)
}

// sniff tells the layer media type from the blob's first bytes.
func (ti *tarIndex) sniff(name string) types.MediaType {
	rc, _, err := ti.open(name)
	if err != nil {
		return types.DockerLayer
	}
	var magic [4]byte
	n, _ := io.ReadFull(rc, magic[:])
	switch {
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return types.DockerLayer
	case n == 4 && bytes.Equal(magic[:], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return types.OCILayerZStd
	}
	return types.DockerUncompressedLayer
}

// dockerManifest is one entry of a docker-save manifest.json.
type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

func (ti *tarIndex) dockerSources(log *slog.Logger) ([]source, error) {
	b, err := ti.read("manifest.json")
	if err != nil {
		return nil, err
	}
	var ms []dockerManifest
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w: %w", ErrBadArchive, err)
	}
	var out []source
	for _, m := range ms {
		config, err := ti.read(m.Config)
		if err != nil {
			return nil, err
		}
		src := source{config: config}
		for _, t := range m.RepoTags {
			ref, err := ParseReference(t)
			if err != nil || ref.Tag == "" {
				log.Warn("ignoring bad tag in image archive", "tag", t)
				continue
			}
			ref.Digest = ""
			src.tags = append(src.tags, ref)
			src.repos = append(src.repos, ref)
		}
		for _, l := range m.Layers {
			l := l
			e, err := ti.entry(l)
			if err != nil {
				return nil, err
			}
			src.layers = append(src.layers, blob{
				digest:    digestFromBlobName(l),
				size:      e.size,
				mediaType: ti.sniff(l),
				open:      func() (io.ReadCloser, error) { rc, _, err := ti.open(l); return rc, err },
			})
		}
		out = append(out, src)
	}
	return out, nil
}

// digestFromBlobName reads the digest out of "blobs/sha256/<hex>" or
// "<hex>.tar[.gz|.zst]" (go-containerregistry's naming); "" otherwise.
func digestFromBlobName(name string) string {
	base := path.Base(name)
	if path.Dir(name) == "blobs/sha256" {
		return "sha256:" + base
	}
	for _, ext := range []string{".tar.gz", ".tar.zst", ".tar"} {
		if h, ok := strings.CutSuffix(base, ext); ok && isDigest("sha256:"+h) {
			return "sha256:" + h
		}
	}
	return ""
}

// Annotations naming an image in an OCI index.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

func (ti *tarIndex) ociSources(p Platform, log *slog.Logger) ([]source, error) {
	b, err := ti.read("index.json")
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("index.json: %w: %w", ErrBadArchive, err)
	}
	var out []source
	for _, d := range idx.Manifests {
		src, err := ti.ociSource(d, p)
		if err != nil {
			return nil, err
		}
		if ref, ok := ociName(d.Annotations); ok {
			src.tags, src.repos = []Reference{ref}, []Reference{ref}
		} else {
			log.Warn("image in OCI archive has no name; importing it untagged", "digest", d.Digest.String())
		}
		out = append(out, src)
	}
	return out, nil
}

func ociName(ann map[string]string) (Reference, bool) {
	for _, k := range []string{annotationContainerdName, annotationRefName} {
		n := ann[k]
		// A bare ref.name is only a tag ("latest"), which names nothing.
		if n == "" || !strings.ContainsAny(n, "/:") {
			continue
		}
		if ref, err := ParseReference(n); err == nil && ref.Tag != "" {
			ref.Digest = ""
			return ref, true
		}
	}
	return Reference{}, false
}

func (ti *tarIndex) blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// ociSource resolves one index entry (an image, or a nested index from
// which this node's platform is picked).
func (ti *tarIndex) ociSource(d v1.Descriptor, p Platform) (source, error) {
	target := d.Digest.String()
	if d.MediaType.IsIndex() {
		b, err := ti.read(ti.blobName(d.Digest))
		if err != nil {
			return source{}, err
		}
		nested, err := v1.ParseIndexManifest(bytes.NewReader(b))
		if err != nil {
			return source{}, fmt.Errorf("%w: %w", ErrBadArchive, err)
		}
		if d, err = p.pickManifest(nested); err != nil {
			return source{}, err
		}
	}
	raw, err := ti.read(ti.blobName(d.Digest))
	if err != nil {
		return source{}, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return source{}, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	config, err := ti.read(ti.blobName(m.Config.Digest))
	if err != nil {
		return source{}, err
	}
	src := source{config: config, manifest: raw, target: target}
	for _, l := range m.Layers {
		name := ti.blobName(l.Digest)
		src.layers = append(src.layers, blob{
			digest:    l.Digest.String(),
			size:      l.Size,
			mediaType: l.MediaType,
			open:      func() (io.ReadCloser, error) { rc, _, err := ti.open(name); return rc, err },
		})
	}
	return src, nil
}
