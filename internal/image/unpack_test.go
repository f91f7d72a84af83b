package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func unpackFiles(t *testing.T, files ...file) (string, error) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "fs")
	_, err := unpackLayer(dst, bytes.NewReader(tarBytes(t, files...)), slog.New(slog.DiscardHandler))
	return dst, err
}

func TestUnpackLayer(t *testing.T) {
	mtime := time.Unix(1600000000, 0)
	dst, err := unpackFiles(t,
		file{name: "./", typ: tar.TypeDir, mode: 0o755},
		file{name: "etc/", typ: tar.TypeDir, mode: 0o755, mtime: mtime},
		file{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n", mode: 0o644, mtime: mtime},
		file{name: "bin/su", body: "setuid", mode: 0o4755, uid: 0, gid: 0},
		file{name: "home/user/notes", body: "n", mode: 0o600, uid: 1000, gid: 1000},
		file{name: "secret/", typ: tar.TypeDir, mode: 0o700},
		file{name: "secret/key", body: "k", mode: 0o400},
		file{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		file{name: "etc/mtab", typ: tar.TypeSymlink, link: "/proc/mounts"},
		file{name: "bin/ls", typ: tar.TypeLink, link: "bin/su"},
		file{name: "gone-later", body: "first"},
		file{name: "gone-later", typ: tar.TypeDir},
		file{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
		file{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		file{name: "var/.wh.cache", body: ""},
		file{name: "opq/.wh..wh..opq", body: ""},
		file{name: "opq/new", body: "fresh"},
	)
	if err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(dst, p) }

	if b, err := os.ReadFile(at("etc/passwd")); err != nil || string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("etc/passwd = %q, %v", b, err)
	}
	for p, want := range map[string]fs.FileMode{"bin/su": 0o755 | fs.ModeSetuid, "secret": 0o700 | fs.ModeDir, "secret/key": 0o400} {
		if fi, err := os.Lstat(at(p)); err != nil || fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeDir) != want {
			t.Errorf("%s mode = %v, want %v (%v)", p, fi.Mode(), want, err)
		}
	}
	if fi, err := os.Lstat(at("etc/passwd")); err != nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("etc/passwd mtime = %v, want %v", fi.ModTime(), mtime)
	}
	if fi, err := os.Lstat(at("etc")); err != nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("etc dir mtime = %v, want %v (directory times are set last)", fi.ModTime(), mtime)
	}
	if os.Geteuid() == 0 {
		if fi, err := os.Lstat(at("home/user/notes")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 1000 || fi.Sys().(*syscall.Stat_t).Gid != 1000 {
			t.Errorf("home/user/notes owner: %v", err)
		}
	}
	if l, err := os.Readlink(at("etc/mtab")); err != nil || l != "/proc/mounts" {
		t.Errorf("absolute symlink = %q, %v (kept verbatim, never followed)", l, err)
	}
	if l, err := os.Readlink(at("bin/sh")); err != nil || l != "busybox" {
		t.Errorf("relative symlink = %q, %v", l, err)
	}
	a, _ := os.Stat(at("bin/su"))
	b, _ := os.Stat(at("bin/ls"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("bin/ls is not a hard link to bin/su")
	}
	if fi, err := os.Lstat(at("gone-later")); err != nil || !fi.IsDir() {
		t.Errorf("a later entry replaces an earlier one: %v %v", fi, err)
	}
	if fi, err := os.Lstat(at("run/fifo")); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v %v", fi, err)
	}
	if _, err := os.Lstat(at("dev/null")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("device node was created: %v", err)
	}
	// Whiteout: a 0/0 character device named like the hidden file.
	var st unix.Stat_t
	if err := unix.Lstat(at("var/cache"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout var/cache: mode %o rdev %d err %v", st.Mode, st.Rdev, err)
	}
	if _, err := os.Lstat(at("var/.wh.cache")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the .wh. file itself was written")
	}
	// Opaque directory: the xattr overlayfs reads.
	attr := "trusted.overlay.opaque"
	if os.Geteuid() != 0 {
		attr = "user.overlay.opaque"
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(at("opq"), attr, buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque dir %s = %q, %v", attr, buf[:n], err)
	}
	if _, err := os.Lstat(at("opq/.wh..wh..opq")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the opaque marker file itself was written")
	}
	if b, _ := os.ReadFile(at("opq/new")); string(b) != "fresh" {
		t.Error("a file next to the opaque marker is missing")
	}
}

func TestUnpackRefusesEscapes(t *testing.T) {
	for name, files := range map[string][]file{
		"dotdot":             {{name: "../evil", body: "x"}},
		"inner dotdot":       {{name: "a/../../evil", body: "x"}},
		"hardlink outside":   {{name: "hl", typ: tar.TypeLink, link: "../../etc/passwd"}},
		"through symlink":    {{name: "link", typ: tar.TypeSymlink, link: "../../.."}, {name: "link/evil", body: "x"}},
		"through abs link":   {{name: "etc", typ: tar.TypeSymlink, link: "/tmp"}, {name: "etc/evil", body: "x"}},
		"whiteout outside":   {{name: "../.wh.passwd"}},
		"opaque outside":     {{name: "../.wh..wh..opq"}},
		"symlinked whiteout": {{name: "l", typ: tar.TypeSymlink, link: "/"}, {name: "l/.wh.etc"}},
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "layer", "fs")
			if err := os.Mkdir(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := unpackLayer(dst, bytes.NewReader(tarBytes(t, files...)), slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatal("unpacked an entry that escapes the layer")
			}
			for _, p := range []string{filepath.Join(parent, "evil"), filepath.Join(parent, "layer", "evil"), "/tmp/evil"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was created outside the layer", p)
				}
			}
		})
	}
}

func TestUnpackRejectsDamagedTar(t *testing.T) {
	b := tarBytes(t, file{name: "big", body: "0123456789"})
	_, err := unpackLayer(filepath.Join(t.TempDir(), "fs"), bytes.NewReader(b[:515]), slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrBadLayer) {
		t.Errorf("truncated tar: err = %v, want ErrBadLayer", err)
	}
}
