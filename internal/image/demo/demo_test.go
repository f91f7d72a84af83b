package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kserver.dev/kserver/internal/image"
)

// built holds one build of the demo set per test binary: compiling kubia
// takes seconds.
var built struct {
	once    sync.Once
	dir     string
	archive string
	imgs    []Image
	err     error
}

func requireBusybox(t testing.TB) string {
	t.Helper()
	const bb = "/bin/busybox"
	if !isStatic(bb) {
		t.Skip("needs the static busybox of busybox-static at /bin/busybox (scripts/setup.sh installs it)")
	}
	return bb
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildSet compiles cmd/kubia and builds the demo set into a temp dir that
// lives as long as the test binary.
func buildSet(t testing.TB) (archive string, imgs []Image) {
	t.Helper()
	bb := requireBusybox(t)
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "kserver-demo-")
		if built.err != nil {
			return
		}
		kubia := filepath.Join(built.dir, "kubia")
		cmd := exec.Command(goTool(), "build", "-trimpath", "-ldflags", "-s -w", "-o", kubia, "kserver.dev/kserver/cmd/kubia")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build cmd/kubia: %v: %s", err, out)
			return
		}
		built.imgs, built.err = Build(Options{Busybox: bb, Kubia: kubia})
		if built.err != nil {
			return
		}
		built.archive = filepath.Join(built.dir, "demo.tar")
		_, built.err = WriteArchive(built.archive, built.imgs)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.archive, built.imgs
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func openStore(t testing.TB) *image.Store {
	t.Helper()
	cfg := image.DefaultConfig(t.TempDir())
	cfg.RegistriesFile = ""
	s, err := image.Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDemoSetImports(t *testing.T) {
	archive, imgs := buildSet(t)
	s := openStore(t)
	got, err := s.Import(context.Background(), archive)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(imgs) {
		t.Errorf("imported %d images, built %d", len(got), len(imgs))
	}
	// The names manifests and the notes use resolve locally.
	for _, name := range []string{
		"busybox", "busybox:latest", "docker.io/library/busybox", "docker.io/library/busybox:latest", "kserver.dev/busybox",
		"luksa/kubia", "luksa/kubia:v1", "luksa/kubia:v2", "luksa/kubia:v3", "luksa/kubia:v4",
		"kserver.dev/kubia:v1", "kserver.dev/kubia:v3", "luksa/kubia-unhealthy", "luksa/kubia-pet", "luksa/kubia-pet-peers",
		"luksa/ssd-monitor", "luksa/batch-job", "luksa/fortune", "luksa/fortune:args", "luksa/fortune:env",
	} {
		if _, err := s.Get(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Three layers in all: busybox, kubia, the fortune files.
	layers := map[string]bool{}
	for _, im := range s.List() {
		for _, l := range im.Layers {
			layers[l] = true
		}
		if im.Platform.Architecture != runtime.GOARCH {
			t.Errorf("%v is built for %s", im.RepoTags, im.Platform)
		}
	}
	if len(layers) != 3 {
		t.Errorf("%d distinct layers, want 3 (the images share them)", len(layers))
	}
	v1, _ := s.Get("luksa/kubia:v1")
	latest, _ := s.Get("luksa/kubia:latest")
	if v1.ID != latest.ID {
		t.Error("luksa/kubia:latest is not v1")
	}
	// Writing the same set again leaves the archive untouched.
	before, _ := os.Stat(archive)
	if changed, err := WriteArchive(archive, imgs); err != nil || changed {
		t.Errorf("rewrite of an unchanged set: changed=%v %v", changed, err)
	}
	if after, _ := os.Stat(archive); !after.ModTime().Equal(before.ModTime()) {
		t.Error("the unchanged archive was rewritten")
	}
}

// layerFS finds the unpacked layer holding file within an image.
func layerFS(t *testing.T, root string, im image.Image, file string) string {
	t.Helper()
	for _, l := range im.Layers {
		fs := filepath.Join(root, "agent", "images", "store", "layers", strings.TrimPrefix(l, "sha256:"), "fs")
		if _, err := os.Lstat(filepath.Join(fs, file)); err == nil {
			return fs
		}
	}
	t.Fatalf("no layer of %v holds %s", im.RepoTags, file)
	return ""
}

func TestDemoBusyboxWorks(t *testing.T) {
	archive, _ := buildSet(t)
	dataDir := t.TempDir()
	cfg := image.DefaultConfig(dataDir)
	cfg.RegistriesFile = ""
	s, err := image.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Import(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	im, _ := s.Get("busybox")
	fs := layerFS(t, dataDir, im, "bin/busybox")
	out, err := exec.Command(filepath.Join(fs, "bin/busybox"), "sh", "-c", "echo hello from $(basename $0)").CombinedOutput()
	if err != nil || string(out) != "hello from sh\n" {
		t.Errorf("busybox sh: %q %v", out, err)
	}
	for _, applet := range []string{"bin/sh", "bin/ls", "usr/bin/wget", "bin/sleep"} {
		if l, err := os.Readlink(filepath.Join(fs, applet)); err != nil || l != "/bin/busybox" {
			t.Errorf("%s -> %q %v", applet, l, err)
		}
	}
	cfgImg, err := s.ImageConfig("busybox")
	if err != nil || !slices.Equal(cfgImg.Cmd, []string{"sh"}) {
		t.Errorf("busybox config %+v %v", cfgImg, err)
	}
	if os.Geteuid() != 0 {
		return
	}
	// As root: run the image's own shell with the layer as root directory,
	// the way a container sees it.
	cmd := exec.Command("/bin/sh", "-c", "id -u; ls /bin/busybox; cat /etc/passwd | head -1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: fs}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err = cmd.CombinedOutput()
	if err != nil || string(out) != "0\n/bin/busybox\nroot:x:0:0:root:/root:/bin/sh\n" {
		t.Errorf("in the image root: %q %v", out, err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// startKubia runs the unpacked kubia binary with an image's environment and
// waits until it answers.
func startKubia(t *testing.T, s *image.Store, fs, ref string) string {
	t.Helper()
	cfg, err := s.ImageConfig(ref)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(filepath.Join(fs, "kubia"))
	cmd.Env = append(slices.Clone(cfg.Env), "PORT="+port)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	url := "http://127.0.0.1:" + port + "/"
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubia (%s) did not listen on %s within 10s", ref, port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hit(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDemoKubiaVersions(t *testing.T) {
	archive, _ := buildSet(t)
	dataDir := t.TempDir()
	cfg := image.DefaultConfig(dataDir)
	cfg.RegistriesFile = ""
	s, err := image.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Import(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	im, _ := s.Get("luksa/kubia:v1")
	fs := layerFS(t, dataDir, im, "kubia")
	host, _ := os.Hostname()

	if code, body := hit(t, startKubia(t, s, fs, "luksa/kubia:v1")); code != 200 || body != "You've hit "+host+"\n" {
		t.Errorf("v1: %d %q", code, body)
	}
	if code, body := hit(t, startKubia(t, s, fs, "luksa/kubia:v2")); code != 200 || body != "This is v2 running in pod "+host+"\n" {
		t.Errorf("v2: %d %q", code, body)
	}
	v3 := startKubia(t, s, fs, "kserver.dev/kubia:v3")
	var codes []int
	for range 6 {
		code, _ := hit(t, v3)
		codes = append(codes, code)
	}
	if !slices.Equal(codes, []int{200, 200, 200, 200, 500, 500}) {
		t.Errorf("v3 answered %v, want four 200s, then 500s", codes)
	}
	// As root, through the real overlay root filesystem: bash is busybox's
	// shell under the name the exercises use, curl reaches the server.
	if os.Geteuid() == 0 {
		rootfs, err := s.PrepareRootfs(context.Background(), "demo-bash", "luksa/kubia:v1")
		if err != nil {
			t.Fatal(err)
		}
		defer s.RemoveRootfs("demo-bash")
		cmd := exec.Command("/bin/bash", "-c", "echo $((6*7)); curl -s "+v3)
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "42\nSome internal error has occurred!") {
			t.Errorf("bash and curl in the kubia image: %q %v", out, err)
		}
	}
	// curl is the kubia binary under another name.
	link := filepath.Join(t.TempDir(), "curl")
	if err := os.Symlink(filepath.Join(fs, "kubia"), link); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(link, "-s", strings.TrimSuffix(v3, "/")).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Some internal error has occurred!") {
		t.Errorf("curl: %q %v", out, err)
	}
}
