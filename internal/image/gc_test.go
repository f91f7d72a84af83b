package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// gcFixture imports images with one layer of the given content size each,
// a minute apart, and returns their IDs by tag.
func gcFixture(t *testing.T, s *Store, clock *fakeClock, sizes map[string]int) map[string]string {
	t.Helper()
	ids := map[string]string{}
	tags := make([]string, 0, len(sizes))
	for tag := range sizes {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	for _, tag := range tags {
		img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: tag, body: strings.Repeat("x", sizes[tag])}))
		archive := filepath.Join(t.TempDir(), "img.tar")
		dockerSave(t, archive, map[string]v1.Image{"gc/" + tag + ":1": img})
		im, err := s.Import(context.Background(), archive)
		if err != nil {
			t.Fatal(err)
		}
		ids[tag] = im[0].ID
		clock.Advance(time.Minute)
	}
	return ids
}

func TestGarbageCollect(t *testing.T) {
	clock := newFakeClock()
	var capacity, available uint64 = 1000, 100
	s := newTestStore(t, func(c *Config) {
		c.Now = clock.Now
		c.DiskUsage = func(string) (uint64, uint64, error) { return capacity, available, nil }
	})
	ids := gcFixture(t, s, clock, map[string]int{"a": 100, "b": 150, "c": 300, "d": 50})
	// b was used by a container that is gone now; d is in use.
	s.mu.Lock()
	s.idx.Images[ids["b"]].LastUsed = clock.Now()
	s.users["running"] = ids["d"]
	s.mu.Unlock()
	clock.Advance(10 * time.Minute)
	young := gcFixture(t, s, clock, map[string]int{"e": 70})["e"] // younger than MinAge
	ctx := context.Background()

	present := func() []string {
		var out []string
		for tag, id := range map[string]string{"a": ids["a"], "b": ids["b"], "c": ids["c"], "d": ids["d"], "e": young} {
			if _, err := s.Get(id); err == nil {
				out = append(out, tag)
			}
		}
		slices.Sort(out)
		return out
	}

	if st, err := s.FsStats(); err != nil || st.Capacity != 1000 || st.Images != 5 || st.LayersBytes != 100+150+300+50+70 {
		t.Errorf("FsStats = %+v, %v", st, err)
	}
	// 84%: below the high threshold, nothing happens.
	available = 160
	if res, err := s.GarbageCollect(ctx); err != nil || len(res.Removed) != 0 || res.UsagePercent != 84 {
		t.Fatalf("at 84%%: %+v %v", res, err)
	}
	// 90%: free 1000*20% - 100 = 100 bytes; a is the least recently used.
	available = 100
	res, err := s.GarbageCollect(ctx)
	if err != nil || res.Wanted != 100 || res.Freed != 100 || !slices.Equal(res.Removed, []string{ids["a"]}) {
		t.Fatalf("at 90%%: %+v %v", res, err)
	}
	if got := present(); !slices.Equal(got, []string{"b", "c", "d", "e"}) {
		t.Errorf("after the first collection: %v", got)
	}
	// 100%: wants 200; c (never used) goes before b (used recently).
	available = 0
	res, err = s.GarbageCollect(ctx)
	if err != nil || !slices.Equal(res.Removed, []string{ids["c"]}) {
		t.Fatalf("at 100%%: %+v %v", res, err)
	}
	// Still full: b goes, then nothing is left that may go.
	res, err = s.GarbageCollect(ctx)
	if !errors.Is(err, ErrGCShort) || !slices.Equal(res.Removed, []string{ids["b"]}) {
		t.Fatalf("last collection: %+v %v", res, err)
	}
	want := fmt.Sprintf("Failed to garbage collect required amount of images. Attempted to free %d bytes, but only found %d bytes eligible to free", res.Wanted, res.Freed)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want the kubelet's %q", err, want)
	}
	if got := present(); !slices.Equal(got, []string{"d", "e"}) {
		t.Errorf("kept %v, want the image in use and the young one", got)
	}
	// The young one becomes old enough.
	clock.Advance(3 * time.Minute)
	if res, _ := s.GarbageCollect(ctx); !slices.Equal(res.Removed, []string{young}) {
		t.Errorf("after MinAge: %+v", res)
	}
}

func TestRemoveKeepsSharedLayers(t *testing.T) {
	s := newTestStore(t, nil)
	shared := layerOf(t, file{name: "base", body: "shared"})
	a := imageOf(t, linuxAMD64, v1.Config{}, shared, layerOf(t, file{name: "a", body: "a"}))
	b := imageOf(t, linuxAMD64, v1.Config{}, shared, layerOf(t, file{name: "b", body: "b"}))
	archive := filepath.Join(t.TempDir(), "ab.tar")
	dockerSave(t, archive, map[string]v1.Image{"x/a:1": a, "x/b:1": b})
	if _, err := s.Import(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	if n := layerCount(t, s); n != 3 {
		t.Fatalf("%d layers, want 3", n)
	}
	if err := s.Remove("x/a:1"); err != nil {
		t.Fatal(err)
	}
	if n := layerCount(t, s); n != 2 {
		t.Errorf("%d layers after removing a, want 2 (shared + b)", n)
	}
	if _, err := os.Stat(filepath.Join(s.layerDir(mustDiffID(t, shared)), "fs", "base")); err != nil {
		t.Errorf("the shared layer went with a: %v", err)
	}
	if err := s.Remove("x/a:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v", err)
	}
}

func TestNodeImages(t *testing.T) {
	s := newTestStore(t, nil)
	small := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "s", body: "s"}))
	big := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "b", body: strings.Repeat("b", 50000)}))
	archive := filepath.Join(t.TempDir(), "n.tar")
	tags := map[string]v1.Image{"small:1": small}
	for i := range 6 {
		tags[fmt.Sprintf("big:%d", i)] = big
	}
	dockerSave(t, archive, tags)
	if _, err := s.Import(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	got := s.NodeImages(DefaultNodeStatusMaxImages)
	if len(got) != 2 || got[0].SizeBytes <= got[1].SizeBytes {
		t.Fatalf("node images %+v: want 2, largest first", got)
	}
	if len(got[0].Names) != MaxNamesPerImageInNodeStatus || !strings.Contains(got[0].Names[0], "@sha256:") {
		t.Errorf("big image names %v: want 5, repo digests first", got[0].Names)
	}
	if got[1].Names[1] != "docker.io/library/small:1" {
		t.Errorf("small image names %v", got[1].Names)
	}
	if one := s.NodeImages(1); len(one) != 1 || one[0].SizeBytes != got[0].SizeBytes {
		t.Errorf("NodeImages(1) = %+v", one)
	}
}

func TestReopenRecoversFromInterruptedWork(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	cfg.RegistriesFile, cfg.Platform = "", linuxAMD64
	s, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "f", body: "x"}))
	broken := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "g", body: "y"}))
	archive := filepath.Join(t.TempDir(), "r.tar")
	dockerSave(t, archive, map[string]v1.Image{"keep:1": img, "broken:1": broken})
	if _, err := s.Import(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cfg, nil); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second Open of a store in use: %v", err)
	}
	s.Close()
	// What a crash leaves: a half-unpacked layer, a layer no image lists, an
	// image whose layer vanished, a container dir without its record.
	for _, d := range []string{filepath.Join(dirTmp, "abc-123", "fs"), filepath.Join(dirLayers, hex64, "fs"), filepath.Join(dirContainers, "half")} {
		if err := os.MkdirAll(filepath.Join(cfg.Root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(cfg.Root, dirLayers, strings.TrimPrefix(mustDiffID(t, mustLayer(t, broken)), "sha256:"))); err != nil {
		t.Fatal(err)
	}
	s, err = Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get("keep:1"); err != nil {
		t.Errorf("intact image lost: %v", err)
	}
	if _, err := s.Get("broken:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("image with a missing layer kept: %v", err)
	}
	for _, d := range []string{dirTmp + "/abc-123", dirLayers + "/" + hex64, dirContainers + "/half"} {
		if _, err := os.Stat(filepath.Join(cfg.Root, d)); err == nil {
			t.Errorf("%s left behind", d)
		}
	}
	// A damaged index is reported, not silently replaced.
	s.Close()
	if err := os.WriteFile(filepath.Join(cfg.Root, fileIndex), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cfg, nil); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged index: %v", err)
	}
}

func mustLayer(t *testing.T, img v1.Image) v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil || len(ls) == 0 {
		t.Fatal(err)
	}
	return ls[0]
}

// TestCollectionSparesImagesBeingStored runs a collection while an image's
// second layer is still unpacking: its first layer and its config, which no
// recorded image lists yet, must survive.
func TestCollectionSparesImagesBeingStored(t *testing.T) {
	s := newTestStore(t, func(c *Config) { c.GC.MinAge = 0 })
	// An unused image for the collection to remove, so that it sweeps.
	other := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "other"}))
	archive := filepath.Join(t.TempDir(), "other.tar")
	dockerSave(t, archive, map[string]v1.Image{"example.com/other:1": other})
	if _, err := s.Import(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	l1, l2 := layerOf(t, file{name: "one", body: "1"}), layerOf(t, file{name: "two", body: "2"})
	img := imageOf(t, linuxAMD64, v1.Config{}, l1, l2)
	src, err := imageSource(img, mustDigest(t, img.Digest), mustRef(t, "example.com/slow:1"))
	if err != nil {
		t.Fatal(err)
	}
	opened, release := make(chan struct{}), make(chan struct{})
	open := src.layers[1].open
	src.layers[1].open = func() (io.ReadCloser, error) {
		close(opened)
		<-release
		return open()
	}
	done := make(chan error, 1)
	go func() { _, err := s.ingest(context.Background(), src); done <- err }()
	<-opened
	if _, removed, err := s.Prune(context.Background()); err != nil || len(removed) != 1 {
		t.Fatalf("prune removed %v, %v", removed, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	im, err := s.Get("example.com/slow:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range im.Layers {
		if _, err := os.Stat(filepath.Join(s.layerDir(l), "fs")); err != nil {
			t.Errorf("layer %s was collected while its image was being stored: %v", l, err)
		}
	}
	if _, err := s.ImageConfig(im.ID); err != nil {
		t.Errorf("config was collected: %v", err)
	}
}
