// Package demo builds kserver's offline demo images from files on this
// machine: a busybox image from the distribution's static busybox, and the
// kubia demo app (cmd/kubia) in every variant the study notes use, tagged
// as they name them (luksa/kubia:v1, …) and under kserver.dev/ aliases.
//
// The images share layers (busybox at the bottom, the kubia binary above
// it), so the whole set costs little more than its two binaries. Builds are
// reproducible: the same inputs give the same image IDs, so an unchanged
// set is not imported twice.
package demo

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"kserver.dev/kserver/internal/image"
)

// Options says where the inputs are.
type Options struct {
	// Busybox is a statically linked busybox (Debian: busybox-static,
	// /bin/busybox).
	Busybox string
	// Kubia is the static kubia binary (CGO_ENABLED=0 go build ./cmd/kubia).
	Kubia string
	// Platform the binaries are built for; the zero value is the host's.
	Platform image.Platform
	// Created stamps the images and files; the zero value is the Unix epoch
	// (reproducible builds; scripts pass SOURCE_DATE_EPOCH).
	Created time.Time
}

// Image is one image of the set with the names it goes by.
type Image struct {
	Tags  []string
	Image v1.Image
}

// PATH as Docker's busybox image sets it.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Build makes the demo images.
func Build(o Options) ([]Image, error) {
	if o.Platform == (image.Platform{}) {
		o.Platform = image.HostPlatform()
	}
	for _, bin := range []string{o.Busybox, o.Kubia} {
		if !isStatic(bin) {
			return nil, fmt.Errorf("%s is not a statically linked executable: the images have no C library", bin)
		}
	}
	bb, err := busyboxLayer(o)
	if err != nil {
		return nil, err
	}
	kubia, err := kubiaLayer(o)
	if err != nil {
		return nil, err
	}
	fortune, err := layer(o.Created, fortuneFiles())
	if err != nil {
		return nil, err
	}
	version := busyboxVersion(o.Busybox)
	var out []Image
	add := func(tags []string, cfg v1.Config, layers ...v1.Layer) error {
		img, err := assemble(o, cfg, layers...)
		if err != nil {
			return err
		}
		out = append(out, Image{Tags: tags, Image: img})
		return nil
	}
	bbTags := []string{"busybox:latest", "kserver.dev/busybox:latest"}
	if version != "" {
		bbTags = append(bbTags, "busybox:"+version)
	}
	steps := []struct {
		tags   []string
		cfg    v1.Config
		layers []v1.Layer
	}{
		{bbTags, v1.Config{Cmd: []string{"sh"}}, []v1.Layer{bb}},
		{kubiaTags("kubia", "latest", "v1"), kubiaConfig("v1"), []v1.Layer{bb, kubia}},
		{kubiaTags("kubia", "v2"), kubiaConfig("v2"), []v1.Layer{bb, kubia}},
		{kubiaTags("kubia", "v3"), kubiaConfig("v3"), []v1.Layer{bb, kubia}},
		{kubiaTags("kubia", "v4"), kubiaConfig("v4"), []v1.Layer{bb, kubia}},
		{kubiaTags("kubia-unhealthy", "latest"), kubiaConfig("unhealthy"), []v1.Layer{bb, kubia}},
		{kubiaTags("kubia-pet", "latest"), kubiaConfig("pet"), []v1.Layer{bb, kubia}},
		{kubiaTags("kubia-pet-peers", "latest"), kubiaConfig("pet-peers"), []v1.Layer{bb, kubia}},
		{kubiaTags("ssd-monitor", "latest"), shellConfig(ssdMonitorScript), []v1.Layer{bb}},
		{kubiaTags("batch-job", "latest"), shellConfig(batchJobScript), []v1.Layer{bb}},
		{kubiaTags("fortune", "latest", "args", "env"), v1.Config{Entrypoint: []string{"/bin/fortuneloop.sh"}, Env: []string{defaultPath}}, []v1.Layer{bb, fortune}},
	}
	for _, s := range steps {
		if err := add(s.tags, s.cfg, s.layers...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kubiaTags names an image as the notes do (luksa/<repo>:<tag>) and under
// the neutral kserver.dev/<repo>:<tag>.
func kubiaTags(repo string, tags ...string) []string {
	var out []string
	for _, t := range tags {
		out = append(out, "luksa/"+repo+":"+t, "kserver.dev/"+repo+":"+t)
	}
	return out
}

func kubiaConfig(mode string) v1.Config {
	return v1.Config{
		Entrypoint:   []string{"/kubia"},
		Env:          []string{defaultPath, "KUBIA_MODE=" + mode},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels:       map[string]string{"org.opencontainers.image.source": "kserver cmd/kubia", "dev.kserver.kubia.mode": mode},
	}
}

func shellConfig(script string) v1.Config {
	return v1.Config{Entrypoint: []string{"/bin/sh", "-c", script}, Env: []string{defaultPath}}
}

// The busybox programs of the notes' luksa/ssd-monitor and luksa/batch-job,
// with a TERM trap so that a pod stops at once instead of after its grace
// period (a shell as PID 1 ignores SIGTERM).
const (
	ssdMonitorScript = `trap 'exit 0' TERM INT; while true; do echo 'SSD OK'; sleep 5 & wait $!; done`
	batchJobScript   = `trap 'exit 143' TERM INT; echo "$(date) Batch job starting"; sleep 120 & wait $!; echo "$(date) Finished succesfully"`
)

// assemble stacks layers under a config for the platform.
func assemble(o Options, cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = o.Platform.OS, o.Platform.Architecture, o.Platform.Variant
	if cf.Architecture != "arm" {
		cf.Variant = ""
	}
	cf.Created = v1.Time{Time: o.Created.UTC()}
	cf.Config = cfg
	cf.History = nil
	return mutate.ConfigFile(img, cf)
}

// WriteArchive writes the images as one docker-save archive (layers shared
// by several images are stored once), replacing path atomically. An archive
// already holding the same images under the same tags is left alone, so
// that kserver does not read it again at its next start.
func WriteArchive(path string, imgs []Image) (changed bool, err error) {
	refs := map[name.Reference]v1.Image{}
	for _, im := range imgs {
		for _, t := range im.Tags {
			tag, err := name.NewTag(t)
			if err != nil {
				return false, fmt.Errorf("tag %q: %w", t, err)
			}
			refs[tag] = im.Image
		}
	}
	tmp := path + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if same, _ := sameArchive(path, tmp); same {
		return false, os.Remove(tmp)
	}
	return true, os.Rename(tmp, path)
}

// sameArchive compares what two docker-save archives hold: configs (named
// by digest, so equal names mean equal images) and their tags.
func sameArchive(a, b string) (bool, error) {
	summary := func(p string) (string, error) {
		m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(p) })
		if err != nil {
			return "", err
		}
		var lines []string
		for _, d := range m {
			tags := append([]string(nil), d.RepoTags...)
			sort.Strings(tags)
			lines = append(lines, d.Config+" "+strings.Join(tags, ","))
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n"), nil
	}
	sa, err := summary(a)
	if err != nil {
		return false, err
	}
	sb, err := summary(b)
	return err == nil && sa == sb, err
}

var versionRE = regexp.MustCompile(`BusyBox v([0-9]+\.[0-9]+\.[0-9]+)`)

// busyboxVersion reads "1.35.0" from the binary's banner ("" if it cannot
// run here).
func busyboxVersion(bin string) string {
	out, _ := exec.Command(bin).CombinedOutput()
	if m := versionRE.FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return ""
}

// applets lists where busybox wants its applet links ("bin/ls",
// "usr/bin/wget", …), asking the binary itself.
func applets(bin string) ([]string, error) {
	out, err := exec.Command(bin, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w (is it a static busybox for this machine?)", bin, err)
	}
	var list []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || !strings.Contains(l, "/") || strings.Contains(l, "..") || l == "bin/busybox" {
			continue
		}
		list = append(list, l)
	}
	sort.Strings(list)
	return list, nil
}

func readBinary(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, f)
	return buf.Bytes(), err
}

// isStatic reports whether path is an ELF executable without an
// interpreter, i.e. statically linked.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// Size is an image's size as registries and Node status count it: config
// plus compressed layers.
func Size(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size, nil
}
