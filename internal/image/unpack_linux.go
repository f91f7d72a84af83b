package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Overlay whiteout conventions of the OCI image spec.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// unpacker writes one layer tar into a directory that becomes an overlay
// lowerdir. Every path goes through an os.Root, so neither ".." nor a
// symlink planted by an earlier entry can reach outside the layer.
type unpacker struct {
	root     *os.Root
	log      *slog.Logger
	asRoot   bool
	dirs     []dirMeta // applied last: children change their parent's mtime
	diskSize int64
	skipped  int
	// made holds the paths this layer has created so far (true for
	// directories). The layer starts empty, so a path not in it needs no
	// existence check.
	made map[string]bool
}

type dirMeta struct {
	name     string
	mode     fs.FileMode
	uid, gid int
	mtime    time.Time
}

// unpackLayer extracts the tar stream r into dst (which must not exist) and
// returns the bytes of file content written. Whiteouts become overlay
// whiteouts (character devices 0/0), opaque markers become the
// trusted.overlay.opaque xattr, device nodes are skipped.
func unpackLayer(dst string, r io.Reader, log *slog.Logger) (int64, error) {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return 0, err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	u := &unpacker{root: root, log: log, asRoot: os.Geteuid() == 0, made: map[string]bool{".": true}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read layer tar: %w: %w", err, ErrBadLayer)
		}
		if err := u.entry(hdr, tr); err != nil {
			return 0, err
		}
	}
	if err := u.finish(); err != nil {
		return 0, err
	}
	if u.skipped > 0 {
		log.Debug("skipped device nodes in layer", "count", u.skipped)
	}
	return u.diskSize, nil
}

// cleanName turns a tar entry name into a path relative to the layer root,
// refusing names that climb out of it.
func cleanName(name string) (string, error) {
	p := path.Clean("/" + strings.TrimPrefix(name, "./"))
	raw := path.Clean(strings.TrimLeft(name, "/"))
	if raw == ".." || strings.HasPrefix(raw, "../") {
		return "", fmt.Errorf("layer entry %q points outside the layer: %w", name, ErrBadLayer)
	}
	if p == "/" {
		return ".", nil
	}
	return p[1:], nil
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := path.Split(name)
	dir = path.Clean("./" + dir)
	if base == whiteoutOpaque {
		if err := u.mkdirAll(dir); err != nil {
			return u.fail(hdr, err)
		}
		return u.fail(hdr, u.markOpaque(dir))
	}
	if target, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
		if target == "" || target == "." || target == ".." {
			return fmt.Errorf("layer entry %q is not a valid whiteout: %w", hdr.Name, ErrBadLayer)
		}
		return u.fail(hdr, u.whiteout(dir, target))
	}
	if name != "." {
		if err := u.mkdirAll(dir); err != nil {
			return u.fail(hdr, err)
		}
		if err := u.clear(name, hdr.Typeflag == tar.TypeDir); err != nil {
			return u.fail(hdr, err)
		}
		u.made[name] = hdr.Typeflag == tar.TypeDir
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = u.dir(name, hdr)
	case tar.TypeReg, tar.TypeRegA:
		err = u.file(name, hdr, r)
	case tar.TypeSymlink:
		err = u.symlink(name, hdr)
	case tar.TypeLink:
		err = u.hardlink(name, hdr)
	case tar.TypeFifo:
		err = u.fifo(name, hdr)
	case tar.TypeChar, tar.TypeBlock:
		// A container gets its /dev from the runtime; device nodes from an
		// image would be a way around the device cgroup.
		u.skipped++
	case tar.TypeXGlobalHeader:
	default:
		u.log.Debug("skipping unsupported layer entry", "name", hdr.Name, "type", string(hdr.Typeflag))
	}
	return u.fail(hdr, err)
}

func (u *unpacker) fail(hdr *tar.Header, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrBadLayer) {
		return err
	}
	return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
}

// mkdirAll creates dir and its parents unless this layer already has it.
func (u *unpacker) mkdirAll(dir string) error {
	if u.made[dir] {
		return nil
	}
	if err := u.root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for d := dir; d != "."; d = path.Dir(d) {
		u.made[d] = true
	}
	return nil
}

// clear removes what an earlier entry of this layer left at name, unless
// both are directories (a later entry then only updates its metadata).
func (u *unpacker) clear(name string, isDir bool) error {
	if _, ok := u.made[name]; !ok {
		return nil
	}
	fi, err := u.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() && isDir {
		return nil
	}
	for p := range u.made {
		if p == name || strings.HasPrefix(p, name+"/") {
			delete(u.made, p)
		}
	}
	return u.root.RemoveAll(name)
}

func (u *unpacker) dir(name string, hdr *tar.Header) error {
	if name != "." {
		if err := u.root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	if err := u.xattrs(name, hdr); err != nil {
		return err
	}
	u.dirs = append(u.dirs, dirMeta{name: name, mode: hdr.FileInfo().Mode(), uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime})
	return nil
}

func (u *unpacker) file(name string, hdr *tar.Header, r io.Reader) error {
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: %w", err, ErrBadLayer)
	}
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("short file: %d of %d bytes: %w", n, hdr.Size, ErrBadLayer)
	}
	if err == nil {
		err = setXattrs(int(f.Fd()), hdr)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	u.diskSize += n
	return u.meta(name, hdr, false)
}

func (u *unpacker) symlink(name string, hdr *tar.Header) error {
	if err := u.root.Symlink(hdr.Linkname, name); err != nil {
		return err
	}
	return u.meta(name, hdr, true)
}

func (u *unpacker) hardlink(name string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return err
	}
	if target == "." {
		return fmt.Errorf("hard link %q to the layer root: %w", hdr.Name, ErrBadLayer)
	}
	return u.root.Link(target, name)
}

func (u *unpacker) fifo(name string, hdr *tar.Header) error {
	if err := u.mknodAt(name, unix.S_IFIFO|uint32(hdr.Mode&0o777), 0); err != nil {
		return err
	}
	return u.meta(name, hdr, false)
}

// whiteout hides dir/target of the layers below.
func (u *unpacker) whiteout(dir, target string) error {
	if err := u.mkdirAll(dir); err != nil {
		return err
	}
	name := path.Join(dir, target)
	if err := u.clear(name, false); err != nil {
		return err
	}
	u.made[name] = false
	return u.mknodAt(name, unix.S_IFCHR, 0)
}

// markOpaque hides everything the layers below have in dir.
func (u *unpacker) markOpaque(dir string) error {
	d, err := u.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	err = unix.Fsetxattr(int(d.Fd()), "trusted.overlay.opaque", []byte("y"), 0)
	if errors.Is(err, unix.EPERM) && !u.asRoot {
		// Unprivileged: the marker overlayfs reads with -o userxattr.
		err = unix.Fsetxattr(int(d.Fd()), "user.overlay.opaque", []byte("y"), 0)
	}
	if err != nil {
		return fmt.Errorf("mark %s opaque: %w", dir, err)
	}
	return nil
}

// mknodAt creates a node in its parent directory, opened through the root.
func (u *unpacker) mknodAt(name string, mode uint32, dev int) error {
	dir, base := path.Split(name)
	d, err := u.root.Open(path.Clean("./" + dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Mknodat(int(d.Fd()), base, mode, dev)
}

// meta applies ownership, mode and mtime. Ownership needs root; as another
// user the files stay the caller's.
func (u *unpacker) meta(name string, hdr *tar.Header, isLink bool) error {
	if u.asRoot {
		if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if !isLink {
		// After chown, which clears the set-id bits.
		if err := u.root.Chmod(name, hdr.FileInfo().Mode()); err != nil {
			return err
		}
	}
	return u.lutimes(name, hdr.ModTime)
}

func (u *unpacker) lutimes(name string, mtime time.Time) error {
	dir, base := path.Split(name)
	if name == "." {
		dir, base = ".", "."
	}
	d, err := u.root.Open(path.Clean("./" + dir))
	if err != nil {
		return err
	}
	defer d.Close()
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(int(d.Fd()), base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func (u *unpacker) xattrs(name string, hdr *tar.Header) error {
	if !hasXattrs(hdr) {
		return nil
	}
	f, err := u.root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return setXattrs(int(f.Fd()), hdr)
}

// finish applies directory metadata, deepest first.
func (u *unpacker) finish() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		if u.asRoot {
			if err := u.root.Lchown(d.name, d.uid, d.gid); err != nil {
				return fmt.Errorf("layer dir %q: %w", d.name, err)
			}
		}
		mode := d.mode
		if !u.asRoot {
			mode |= 0o700 // keep what we unpacked removable
		}
		if err := u.root.Chmod(d.name, mode); err != nil {
			return fmt.Errorf("layer dir %q: %w", d.name, err)
		}
		if err := u.lutimes(d.name, d.mtime); err != nil {
			return fmt.Errorf("layer dir %q: %w", d.name, err)
		}
	}
	return nil
}

// Extended attributes an image may carry. trusted.* (overlay's own
// markers among them) and security.selinux are never taken from a layer.
func allowedXattr(key string) bool {
	return strings.HasPrefix(key, "user.") || key == "security.capability"
}

func hasXattrs(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && allowedXattr(x) {
			return true
		}
	}
	return false
}

func setXattrs(fd int, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		x, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !allowedXattr(x) {
			continue
		}
		if err := unix.Fsetxattr(fd, x, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set xattr %s: %w", x, err)
		}
	}
	return nil
}

// syncTree flushes the file system holding dir, so that a layer is on disk
// before the index names it.
func syncTree(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

// statfsUsage reports the capacity and the bytes available to unprivileged
// users of the file system holding p, as the kubelet's image fs stats do.
func statfsUsage(p string) (capacity, available uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", p, err)
	}
	return st.Blocks * uint64(st.Bsize), st.Bavail * uint64(st.Bsize), nil
}
