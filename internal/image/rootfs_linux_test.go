package image

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/netns/netnstest"
)

// TestRootfsOverlay mounts a container root filesystem from a two-layer
// image and checks what a container would see through it.
func TestRootfsOverlay(t *testing.T) {
	netnstest.RequireRoot(t)
	lower := layerOf(t,
		file{name: "etc/os-release", body: "base"},
		file{name: "data/keep", body: "keep"},
		file{name: "data/gone", body: "gone"},
		file{name: "opq/old", body: "old"},
		file{name: "usr/bin/tool", body: "v1", mode: 0o755},
	)
	upper := layerOf(t,
		file{name: "data/.wh.gone"},
		file{name: "opq/", typ: tar.TypeDir},
		file{name: "opq/.wh..wh..opq"},
		file{name: "opq/new", body: "new"},
		file{name: "usr/bin/tool", body: "v2", mode: 0o755},
	)
	img := imageOf(t, linuxAMD64, v1.Config{Entrypoint: []string{"/usr/bin/tool"}}, lower, upper)
	archive := filepath.Join(t.TempDir(), "app.tar")
	dockerSave(t, archive, map[string]v1.Image{"test/app:v1": img})

	cfg := DefaultConfig(t.TempDir())
	cfg.RegistriesFile, cfg.Platform = "", linuxAMD64
	cfg.DiskUsage = func(string) (uint64, uint64, error) { return 1000, 0, nil } // 100% full
	cfg.GC.MinAge = 0
	s, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Import(ctx, archive); err != nil {
		t.Fatal(err)
	}
	rootfs, err := s.PrepareRootfs(ctx, "c1", "test/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(rootfs, unix.MNT_DETACH) })
	if !mounted(rootfs) {
		t.Fatal("rootfs is not a mount point")
	}

	read := func(p string) (string, error) {
		b, err := os.ReadFile(filepath.Join(rootfs, p))
		return string(b), err
	}
	for p, want := range map[string]string{"etc/os-release": "base", "data/keep": "keep", "opq/new": "new", "usr/bin/tool": "v2"} {
		if got, err := read(p); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	for _, p := range []string{"data/gone", "opq/old", "data/.wh.gone", "opq/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is visible (%v); the upper layer hides it", p, err)
		}
	}
	// Writes land in the container's upper dir, never in a shared layer.
	if err := os.WriteFile(filepath.Join(rootfs, "etc/written"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(rootfs, "data/keep")); err != nil {
		t.Fatal(err)
	}
	upperDir := s.path(dirContainers, "c1", dirUpper)
	if b, err := os.ReadFile(filepath.Join(upperDir, "etc/written")); err != nil || string(b) != "w" {
		t.Errorf("write did not land in upper: %q %v", b, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(upperDir, "data/keep"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("deleting a lower file left no whiteout in upper: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.layerDir(mustDiffID(t, lower)), "fs", "data", "keep")); err != nil {
		t.Errorf("the shared lower layer changed: %v", err)
	}

	// In use: neither Remove nor a full disk takes it away, also after a restart.
	if err := s.Remove("test/app:v1"); !errors.Is(err, ErrInUse) {
		t.Errorf("Remove of an image in use: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Containers()["c1"] == "" {
		t.Error("after reopening, the store forgot that c1 uses the image")
	}
	if res, err := s.GarbageCollect(ctx); len(res.Removed) != 0 || !errors.Is(err, ErrGCShort) {
		t.Errorf("GC with the only image in use: %+v %v", res, err)
	}
	if again, err := s.PrepareRootfs(ctx, "c1", "test/app:v1"); err != nil || again != rootfs {
		t.Errorf("PrepareRootfs again: %s %v", again, err)
	}

	if err := s.RemoveRootfs("c1"); err != nil {
		t.Fatal(err)
	}
	if mounted(rootfs) {
		t.Error("still mounted after RemoveRootfs")
	}
	if _, err := os.Stat(s.path(dirContainers, "c1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("container dir left behind: %v", err)
	}
	if err := s.RemoveRootfs("c1"); err != nil {
		t.Errorf("second RemoveRootfs: %v", err)
	}
	if err := s.Remove("test/app:v1"); err != nil {
		t.Fatal(err)
	}
	if n := layerCount(t, s); n != 0 {
		t.Errorf("%d layers left after removing the only image", n)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), s.cfg.Root) {
		t.Error("a mount under the store is left behind")
	}
}

func mustDiffID(t *testing.T, l v1.Layer) string {
	t.Helper()
	h, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func TestOverlayOptionsFitOnePage(t *testing.T) {
	s := newTestStore(t, nil)
	var layers []string
	for i := range 40 {
		layers = append(layers, "sha256:"+strings.Repeat(string(rune('a'+i%6)), 60)+"0000")
	}
	opts, err := s.overlayOptions(layers, s.path(dirContainers, strings.Repeat("c", 64)))
	if err != nil {
		t.Fatalf("40 layers: %v", err)
	}
	if !strings.HasPrefix(opts, "lowerdir="+s.path(dirLinks, shortID(layers[39]))+":") {
		t.Errorf("the top layer is not the first lowerdir: %.120s", opts)
	}
	for range 200 {
		layers = append(layers, layers[0])
	}
	if _, err := s.overlayOptions(layers, s.path(dirContainers, "c")); err == nil {
		t.Error("240 layers fit in one page?")
	}
	if _, err := s.PrepareRootfs(context.Background(), "../escape", "x"); err == nil {
		t.Error("a container id with a path in it was accepted")
	}
}
