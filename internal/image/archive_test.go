package image

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// dockerSave writes a docker-save archive holding the images under their tags.
func dockerSave(t *testing.T, path string, tagged map[string]v1.Image) {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for tag, img := range tagged {
		r, err := name.NewTag(tag)
		if err != nil {
			t.Fatal(err)
		}
		refs[r] = img
	}
	if err := tarball.MultiRefWriteToFile(path, refs); err != nil {
		t.Fatal(err)
	}
}

func layerCount(t *testing.T, s *Store) int {
	t.Helper()
	e, err := os.ReadDir(s.path(dirLayers))
	if err != nil {
		t.Fatal(err)
	}
	return len(e)
}

func TestImportDockerSave(t *testing.T) {
	base := layerOf(t, file{name: "bin/busybox", body: "static", mode: 0o755})
	a := imageOf(t, linuxAMD64, v1.Config{Cmd: []string{"sh"}}, base)
	b := imageOf(t, linuxAMD64, v1.Config{Entrypoint: []string{"/kubia"}}, base, layerOf(t, file{name: "kubia", body: "app", mode: 0o755}))
	dir := t.TempDir()
	archive := filepath.Join(dir, "demo.tar")
	dockerSave(t, archive, map[string]v1.Image{"busybox:latest": a, "luksa/kubia:v1": b, "kserver.dev/kubia:v1": b})

	s := newTestStore(t, nil)
	ctx := context.Background()
	imgs, err := s.Import(ctx, archive)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || len(s.List()) != 2 {
		t.Fatalf("imported %d images, store has %d; want 2", len(imgs), len(s.List()))
	}
	if got := layerCount(t, s); got != 2 {
		t.Errorf("%d layers unpacked, want 2 (the busybox layer is shared)", got)
	}
	for q, want := range map[string]v1.Image{
		"busybox": a, "docker.io/library/busybox:latest": a,
		"luksa/kubia:v1": b, "docker.io/luksa/kubia:v1": b, "kserver.dev/kubia:v1": b,
	} {
		im, err := s.Get(q)
		if err != nil || im.ID != mustDigest(t, want.ConfigName) {
			t.Errorf("Get(%s) = %s, %v", q, im.ID, err)
		}
	}
	kubia, _ := s.Get("luksa/kubia:v1")
	if !slices.Equal(kubia.RepoTags, []string{"docker.io/luksa/kubia:v1", "kserver.dev/kubia:v1"}) || len(kubia.RepoDigests) != 2 {
		t.Errorf("tags %v digests %v", kubia.RepoTags, kubia.RepoDigests)
	}
	if cfg, err := s.ImageConfig("busybox"); err != nil || !slices.Equal(cfg.Cmd, []string{"sh"}) {
		t.Errorf("busybox config %+v %v", cfg, err)
	}

	// An unchanged archive is not read again: scribble over it, keeping size
	// and modification time, and import once more.
	fi, _ := os.Stat(archive)
	if err := os.WriteFile(archive, make([]byte, fi.Size()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(archive, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Import(ctx, archive); err != nil || len(again) != 2 {
		t.Errorf("re-import of an unchanged archive: %d images, %v", len(again), err)
	}
	// A changed one is read, and a damaged one is refused.
	if err := os.Chtimes(archive, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, archive); !errors.Is(err, ErrBadArchive) {
		t.Errorf("damaged archive: err = %v, want ErrBadArchive", err)
	}
}

func TestImportMovesTags(t *testing.T) {
	old := imageOf(t, linuxAMD64, v1.Config{Env: []string{"V=1"}}, layerOf(t, file{name: "v", body: "1"}))
	cur := imageOf(t, linuxAMD64, v1.Config{Env: []string{"V=2"}}, layerOf(t, file{name: "v", body: "2"}))
	dir := t.TempDir()
	dockerSave(t, filepath.Join(dir, "old.tar"), map[string]v1.Image{"example.com/app:latest": old})
	dockerSave(t, filepath.Join(dir, "new.tar"), map[string]v1.Image{"example.com/app:latest": cur})
	s := newTestStore(t, nil)
	ctx := context.Background()
	if _, err := s.Import(ctx, filepath.Join(dir, "old.tar")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, filepath.Join(dir, "new.tar")); err != nil {
		t.Fatal(err)
	}
	im, err := s.Get("example.com/app")
	if err != nil || im.ID != mustDigest(t, cur.ConfigName) {
		t.Fatalf("the tag names %s, want the newer image", im.ID)
	}
	prev, err := s.Get(mustDigest(t, old.ConfigName))
	if err != nil || len(prev.RepoTags) != 0 || len(prev.RepoDigests) != 1 {
		t.Errorf("the older image: %+v %v (keeps its repo digest, loses the tag)", prev, err)
	}
}

// tarDir packs a directory into a tar file, optionally gzipped.
func tarDir(t *testing.T, dir, dst string, gz bool) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w io.Writer = f
	if gz {
		zw := gzip.NewWriter(f)
		defer zw.Close()
		w = zw
	}
	tw := tar.NewWriter(w)
	defer tw.Close()
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}

func TestImportOCIArchive(t *testing.T) {
	single := imageOf(t, linuxAMD64, v1.Config{Cmd: []string{"one"}}, layerOf(t, file{name: "one", body: "1"}))
	amd := imageOf(t, linuxAMD64, v1.Config{Cmd: []string{"amd"}}, layerOf(t, file{name: "arch", body: "amd64"}))
	arm := imageOf(t, Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, v1.Config{Cmd: []string{"arm"}}, layerOf(t, file{name: "arch", body: "arm64"}))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	lay := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(lay, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(single, layout.WithAnnotations(map[string]string{
		annotationContainerdName: "docker.io/library/single:1.0", annotationRefName: "1.0"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: "registry.example.com/multi:2.0"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(single, layout.WithAnnotations(map[string]string{annotationRefName: "latest"})); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "images.tar.gz")
	tarDir(t, lay, archive, true)

	for _, plat := range []Platform{linuxAMD64, {OS: "linux", Architecture: "arm64"}} {
		s := newTestStore(t, func(c *Config) { c.Platform = plat })
		if _, err := s.Import(context.Background(), archive); err != nil {
			t.Fatal(err)
		}
		im, err := s.Get("single:1.0")
		switch {
		case plat.Architecture == "arm64":
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("the amd64-only image was imported on arm64: %v", err)
			}
		case err != nil || im.ID != mustDigest(t, single.ConfigName) ||
			!slices.Equal(im.RepoDigests, []string{"docker.io/library/single@" + mustDigest(t, single.Digest)}):
			t.Errorf("single: %+v %v", im, err)
		}
		want := amd
		if plat.Architecture == "arm64" {
			want = arm
		}
		im, err = s.Get("registry.example.com/multi:2.0")
		if err != nil || im.ID != mustDigest(t, want.ConfigName) {
			t.Errorf("%s: multi = %s %v, want %s", plat, im.ID, err, mustDigest(t, want.ConfigName))
		}
		if !slices.Equal(im.RepoDigests, []string{"registry.example.com/multi@" + mustDigest(t, idx.Digest)}) {
			t.Errorf("multi repo digests %v, want the index digest", im.RepoDigests)
		}
	}
}

func TestImportDir(t *testing.T) {
	s := newTestStore(t, nil)
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "x", body: "x"}))
	other := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "y", body: "y"}))
	dockerSave(t, filepath.Join(s.cfg.ImportDir, "a.tar"), map[string]v1.Image{"a:1": img})
	plain := filepath.Join(t.TempDir(), "b.tar")
	dockerSave(t, plain, map[string]v1.Image{"b:1": other})
	tarDir(t, mustDirOf(t, plain), filepath.Join(s.cfg.ImportDir, "b.tar.gz"), true)
	writeFile(t, s.cfg.ImportDir, "README", "not an archive")
	writeFile(t, s.cfg.ImportDir, "bad.tar", "not a tar either")

	imgs, err := s.ImportDir(context.Background())
	if err == nil {
		t.Error("a bad archive in the folder was not reported")
	}
	if len(imgs) != 2 {
		t.Fatalf("imported %d images, want 2", len(imgs))
	}
	for _, q := range []string{"a:1", "b:1"} {
		if _, err := s.Get(q); err != nil {
			t.Errorf("Get(%s): %v", q, err)
		}
	}
}

// mustDirOf unpacks a docker-save tar into a directory, so that tarDir can
// pack it again (here: gzipped).
func mustDirOf(t *testing.T, archive string) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		p := filepath.Join(dir, h.Name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, fs.FileMode(0o644)); err != nil {
			t.Fatal(err)
		}
	}
}
