package discovery

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// The cache files, named as kubectl names them.
const groupsFile = "servergroups.json"

func resourcesFile(groupVersion string) string {
	return filepath.Join(groupVersion, "serverresources.json")
}

var unsafeFileChars = regexp.MustCompile(`[^(\w/.)]`)

// CacheDir is kubectl's per-server cache folder under parent (for example
// ~/.kube/cache/discovery/127.0.0.1_6443 for https://127.0.0.1:6443), so
// both tools share one cache.
func CacheDir(parent, host string) string {
	h := strings.Replace(strings.Replace(host, "https://", "", 1), "http://", "", 1)
	return filepath.Join(parent, unsafeFileChars.ReplaceAllString(h, "_"))
}

// diskCache reads and writes discovery documents as JSON files with the
// kind and apiVersion kubectl writes, trusting a file for ttl after it was
// written. After invalidate, only files this process wrote are read.
type diskCache struct {
	dir string
	ttl time.Duration

	mu          sync.Mutex
	ours        map[string]bool
	invalidated bool
	// fresh stays true while every answer came from the server in this
	// process.
	fresh bool
}

func newDiskCache(dir string, ttl time.Duration) *diskCache {
	return &diskCache{dir: dir, ttl: ttl, ours: map[string]bool{}, fresh: true}
}

// read decodes the cached file name into v and reports whether it could.
func (d *diskCache) read(name string, v any) bool {
	if d.dir == "" {
		return false
	}
	path := filepath.Join(d.dir, name)
	d.mu.Lock()
	ours := d.ours[path]
	skip := d.invalidated && !ours
	d.mu.Unlock()
	if skip {
		return false
	}
	fi, err := os.Stat(path)
	if err != nil || time.Now().After(fi.ModTime().Add(d.ttl)) {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, v) != nil {
		return false
	}
	d.mu.Lock()
	d.fresh = d.fresh && ours
	d.mu.Unlock()
	return true
}

// write stores v under name, atomically (temporary file and rename), with
// kubectl's modes. Failures are ignored: the cache is an optimisation.
func (d *diskCache) write(name string, v any) {
	if d.dir == "" {
		return
	}
	path := filepath.Join(d.dir, name)
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".")
	if err != nil {
		return
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Chmod(f.Name(), 0o660) != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if os.Rename(f.Name(), path) == nil {
		d.ours[path] = true
	}
}

func (d *diskCache) invalidate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ours = map[string]bool{}
	d.invalidated = true
	d.fresh = true
}

func (d *diskCache) isFresh() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fresh
}
