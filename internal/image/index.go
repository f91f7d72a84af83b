package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// index is the store's metadata, kept in <root>/index.json and rewritten
// atomically (write, fsync, rename) after every change that matters.
type index struct {
	Version  int                       `json:"version"`
	Images   map[string]*imageRecord   `json:"images"`   // by image ID
	Layers   map[string]*layerRecord   `json:"layers"`   // by diffID
	Archives map[string]*archiveRecord `json:"archives"` // imported files by path
}

const indexVersion = 1

// imageRecord is one image: a config plus the layers it stacks.
type imageRecord struct {
	ID          string    `json:"id"`                 // sha256 of the config
	Manifest    string    `json:"manifest"`           // platform manifest digest
	Target      string    `json:"target"`             // what repo digests name: index or manifest digest
	RepoTags    []string  `json:"repoTags,omitempty"` // docker.io/library/busybox:latest
	RepoDigests []string  `json:"repoDigests,omitempty"`
	Layers      []string  `json:"layers"` // diffIDs, bottom first
	Size        int64     `json:"size"`   // config + compressed layers, as registries count it
	Platform    Platform  `json:"platform"`
	Created     time.Time `json:"created"` // when this store first had it
	LastUsed    time.Time `json:"lastUsed,omitempty"`
}

// layerRecord is one unpacked layer, shared by every image that lists it.
type layerRecord struct {
	DiskSize int64  `json:"diskSize"` // bytes of file content unpacked
	Digest   string `json:"digest"`   // digest of the blob it came from
	Size     int64  `json:"size"`     // size of that blob
}

// archiveRecord remembers an imported archive so that an unchanged file is
// not read again at the next start.
type archiveRecord struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
	Images  []string  `json:"images"`
}

func newIndex() index {
	return index{
		Version:  indexVersion,
		Images:   map[string]*imageRecord{},
		Layers:   map[string]*layerRecord{},
		Archives: map[string]*archiveRecord{},
	}
}

func loadIndex(path string) (index, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newIndex(), nil
	}
	if err != nil {
		return index{}, fmt.Errorf("read image index: %w", err)
	}
	idx := newIndex()
	if err := json.Unmarshal(b, &idx); err != nil {
		return index{}, fmt.Errorf("image index %s is damaged: %w", path, err)
	}
	if idx.Version != indexVersion {
		return index{}, fmt.Errorf("image index %s has version %d, this build reads %d", path, idx.Version, indexVersion)
	}
	if idx.Images == nil {
		idx.Images = map[string]*imageRecord{}
	}
	if idx.Layers == nil {
		idx.Layers = map[string]*layerRecord{}
	}
	if idx.Archives == nil {
		idx.Archives = map[string]*archiveRecord{}
	}
	return idx, nil
}

func (idx *index) save(path string) error {
	b, err := json.MarshalIndent(idx, "", " ")
	if err != nil {
		return fmt.Errorf("encode image index: %w", err)
	}
	return writeFileAtomic(path, b, 0o600)
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new content.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// layerUsers counts, for each diffID, the images that stack it.
func (idx *index) layerUsers() map[string]int {
	n := map[string]int{}
	for _, im := range idx.Images {
		for _, l := range uniq(im.Layers) {
			n[l]++
		}
	}
	return n
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
