package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// source is an image ready to be stored, whatever it came from: a registry,
// a docker-save archive or an OCI archive.
type source struct {
	config   []byte
	manifest []byte      // raw platform manifest; nil means synthesize one
	target   string      // digest the repo digests name; "" means the manifest's
	layers   []blob      // in manifest order, bottom first
	tags     []Reference // names to give the image
	repos    []Reference // repositories whose name@target become repo digests
}

func (src source) tagNames() []string {
	var out []string
	for _, t := range src.tags {
		out = append(out, t.tagName())
	}
	return out
}

// blob is one layer as stored: compressed (gzip, zstd) or plain tar.
type blob struct {
	digest    string // "" when the archive does not say
	size      int64
	mediaType types.MediaType
	open      func() (io.ReadCloser, error)
}

// ingest unpacks the layers the store lacks, writes the config and manifest
// and records the image under its names.
func (s *Store) ingest(ctx context.Context, src source) (Image, error) {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(src.config))
	if err != nil {
		return Image{}, fmt.Errorf("image config: %w", err)
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(src.layers) {
		return Image{}, fmt.Errorf("image config lists %d layers, the manifest %d: %w", len(diffIDs), len(src.layers), ErrBadArchive)
	}
	if !s.platform.fits(cfg) {
		got := Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		return Image{}, fmt.Errorf("this node runs %s, the image is built for %s: %w: %w", s.platform, got, ErrPlatform, ErrNotFound)
	}
	held := []string{digestOf(src.config)}
	for _, d := range diffIDs {
		held = append(held, d.String())
	}
	defer s.hold(held...)()
	layers := make([]blob, len(src.layers))
	for i, b := range src.layers {
		rec, err := s.ensureLayer(ctx, diffIDs[i].String(), b)
		if err != nil {
			return Image{}, err
		}
		// Describe the blob this source has; the stored record may come
		// from another form of the same layer (gzip vs plain tar).
		layers[i] = blob{digest: b.digest, size: b.size, mediaType: b.mediaType}
		if b.digest == "" {
			layers[i].digest, layers[i].size = rec.Digest, rec.Size
		}
	}
	if src.manifest == nil {
		src.manifest, err = synthesizeManifest(src.config, layers)
		if err != nil {
			return Image{}, err
		}
	}
	manifestDigest := digestOf(src.manifest)
	defer s.hold(manifestDigest)()
	if src.target == "" {
		src.target = manifestDigest
	}
	id := digestOf(src.config)
	if err := s.writeBlob(id, src.config); err != nil {
		return Image{}, err
	}
	if err := s.writeBlob(manifestDigest, src.manifest); err != nil {
		return Image{}, err
	}
	size := int64(len(src.config))
	for _, l := range layers {
		size += l.size
	}
	rec := &imageRecord{
		ID:       id,
		Manifest: manifestDigest,
		Target:   src.target,
		Layers:   make([]string, len(diffIDs)),
		Size:     size,
		Platform: Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant},
	}
	for i, d := range diffIDs {
		rec.Layers[i] = d.String()
	}
	for _, t := range src.tags {
		rec.RepoTags = append(rec.RepoTags, t.tagName())
	}
	for _, r := range src.repos {
		rec.RepoDigests = append(rec.RepoDigests, r.digestName(src.target))
	}
	return s.record(rec)
}

// record adds an image or merges new names into the stored one. A tag that
// named another image moves to this one, as `docker tag` and containerd do.
func (s *Store) record(rec *imageRecord) (Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.idx.Images[rec.ID]
	if !ok {
		rec.Created = s.now()
		rec.RepoTags, rec.RepoDigests = uniq(rec.RepoTags), uniq(rec.RepoDigests)
		s.idx.Images[rec.ID] = rec
		cur = rec
	} else {
		cur.RepoTags = uniq(append(cur.RepoTags, rec.RepoTags...))
		cur.RepoDigests = uniq(append(cur.RepoDigests, rec.RepoDigests...))
	}
	for _, t := range cur.RepoTags {
		if other, ok := s.names[t]; ok && other != cur.ID {
			o := s.idx.Images[other]
			o.RepoTags = slices.DeleteFunc(o.RepoTags, func(n string) bool { return n == t })
		}
	}
	s.rebuildNamesLocked()
	if err := s.saveLocked(); err != nil {
		return Image{}, err
	}
	return cur.view(), nil
}

func (s *Store) writeBlob(digest string, data []byte) error {
	p := s.blobPath(digest)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return writeFileAtomic(p, data, 0o600)
}

func (s *Store) readBlob(digest string) ([]byte, error) {
	b, err := os.ReadFile(s.blobPath(digest))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", digest, err)
	}
	return b, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// synthesizeManifest builds a Docker v2 manifest for an image that came
// without one (docker-save archives), so that it gets a repo digest.
func synthesizeManifest(config []byte, layers []blob) ([]byte, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config: v1.Descriptor{
			MediaType: types.DockerConfigJSON,
			Size:      int64(len(config)),
			Digest:    mustHash(digestOf(config)),
		},
	}
	for _, l := range layers {
		mt := l.mediaType
		if mt == "" {
			mt = types.DockerLayer
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Size: l.size, Digest: mustHash(l.digest)})
	}
	return json.Marshal(m)
}

func mustHash(s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		return v1.Hash{}
	}
	return h
}

// ensureLayer makes sure the layer with this diffID is unpacked, unpacking
// it from b if not. Concurrent callers for one layer share the work.
func (s *Store) ensureLayer(ctx context.Context, diffID string, b blob) (layerRecord, error) {
	key := "layer " + diffID
	for {
		s.mu.Lock()
		if l, ok := s.idx.Layers[diffID]; ok {
			rec := *l
			s.mu.Unlock()
			return rec, nil
		}
		if f, ok := s.inflight[key]; ok {
			s.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return layerRecord{}, ctx.Err()
			}
			if f.err != nil {
				return layerRecord{}, f.err
			}
			continue
		}
		f := &flight{done: make(chan struct{})}
		s.inflight[key] = f
		s.mu.Unlock()
		rec, err := s.unpackBlob(ctx, diffID, b)
		s.mu.Lock()
		if err == nil {
			s.idx.Layers[diffID] = &rec
		}
		delete(s.inflight, key)
		f.err = err
		close(f.done)
		s.mu.Unlock()
		return rec, err
	}
}

// unpackBlob streams a layer blob through decompression into a fresh
// directory, checks its digests and moves it into place.
func (s *Store) unpackBlob(ctx context.Context, diffID string, b blob) (layerRecord, error) {
	rc, err := b.open()
	if err != nil {
		return layerRecord{}, fmt.Errorf("open layer %s: %w", diffID, err)
	}
	defer rc.Close()
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	tmp := s.path(dirTmp, shortID(diffID)+"-"+hex.EncodeToString(nonce[:]))
	defer removeTree(tmp)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return layerRecord{}, fmt.Errorf("unpack layer %s: %w", diffID, err)
	}
	raw := &countingHash{h: sha256.New()}
	plain, err := decompress(bufio.NewReaderSize(io.TeeReader(ctxReader{ctx, rc}, raw), 64<<10))
	if err != nil {
		return layerRecord{}, fmt.Errorf("layer %s: %w", diffID, err)
	}
	defer plain.Close()
	diff := sha256.New()
	tee := io.TeeReader(plain, diff)
	diskSize, err := unpackLayer(filepath.Join(tmp, "fs"), tee, s.log)
	if err != nil {
		return layerRecord{}, fmt.Errorf("unpack layer %s: %w", diffID, err)
	}
	// The tar reader stops at the end-of-archive marker; hash the padding
	// after it too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return layerRecord{}, fmt.Errorf("read layer %s: %w", diffID, err)
	}
	if got := "sha256:" + hex.EncodeToString(diff.Sum(nil)); got != diffID {
		return layerRecord{}, fmt.Errorf("layer content has diffID %s, the config says %s: %w", got, diffID, ErrBadLayer)
	}
	rawDigest := "sha256:" + hex.EncodeToString(raw.h.Sum(nil))
	if b.digest != "" && b.digest != rawDigest {
		return layerRecord{}, fmt.Errorf("layer blob has digest %s, expected %s: %w", rawDigest, b.digest, ErrBadLayer)
	}
	if err := syncTree(tmp); err != nil {
		return layerRecord{}, fmt.Errorf("unpack layer %s: %w", diffID, err)
	}
	dst := s.layerDir(diffID)
	if err := os.Rename(tmp, dst); err != nil {
		return layerRecord{}, fmt.Errorf("unpack layer %s: %w", diffID, err)
	}
	link := s.path(dirLinks, shortID(diffID))
	_ = os.Remove(link)
	if err := os.Symlink(filepath.Join("..", dirLayers, filepath.Base(dst), "fs"), link); err != nil {
		return layerRecord{}, fmt.Errorf("link layer %s: %w", diffID, err)
	}
	return layerRecord{DiskSize: diskSize, Digest: rawDigest, Size: raw.n}, nil
}

type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// compression names the compression of a stream by its magic number:
// "gzip", "zstd" or "" for none.
func compression(br *bufio.Reader) (string, error) {
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return "gzip", nil
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd", nil
	}
	return "", nil
}

// decompress reads gzip and zstd streams; anything else is read as is.
func decompress(br *bufio.Reader) (io.ReadCloser, error) {
	kind, err := compression(br)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return zr, nil
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}
