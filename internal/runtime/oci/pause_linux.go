package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// pauseScript is PID 1 of a shared PID namespace: it sleeps, exits on
// SIGTERM, and — because busybox sh reaps any child while it waits —
// reaps the orphans the pod's processes leave, as a pause process must.
const pauseScript = `trap 'exit 0' TERM; while :; do /bin/busybox sleep 2147483647 & wait $!; done`

// startPause starts the process holding a pod's shared PID namespace.
func (r *Runtime) startPause(ctx context.Context, sb *sandboxRecord) error {
	rootfs, err := r.pauseRootfs()
	if err != nil {
		return err
	}
	id, err := r.createContainer(sb, runtime.ContainerConfig{
		Name: "POD", Command: []string{"/bin/busybox", "sh", "-c", pauseScript}, Rootfs: runtime.Rootfs{Path: rootfs},
		Security: runtime.Security{ReadOnlyRootfs: true, NoNewPrivileges: true, CapDrop: []string{"ALL"}},
	}, true)
	if err != nil {
		return err
	}
	sb.PauseID = id
	c, err := r.get(id)
	if err != nil {
		return err
	}
	c.op.Lock()
	defer c.op.Unlock()
	return r.start(ctx, c, sb)
}

// pauseRootfs is a read-only rootfs holding only a static busybox,
// shared by every pause process.
func (r *Runtime) pauseRootfs() (string, error) {
	root := filepath.Join(r.cfg.StateDir, "pause-rootfs")
	bin := filepath.Join(root, "bin", "busybox")
	if _, err := os.Stat(bin); err == nil {
		return root, nil
	}
	for _, d := range []string{"bin", "proc", "dev", "sys", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := copyFile(r.cfg.PauseBinary, bin, 0o755); err != nil {
		return "", fmt.Errorf("shareProcessNamespace needs a static busybox at %s (package busybox-static): %w",
			r.cfg.PauseBinary, err)
	}
	return root, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return os.Rename(tmp, dst)
}

// hostDevices are the host's device nodes, for privileged containers.
func hostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	skip := map[string]bool{"/dev/pts": true, "/dev/shm": true, "/dev/mqueue": true, "/dev/console": true,
		"/dev/ptmx": true, "/dev/fd": true}
	_ = filepath.WalkDir("/dev", func(path string, d os.DirEntry, err error) error {
		if err != nil || skip[path] {
			if d != nil && d.IsDir() && path != "/dev" {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&os.ModeSymlink != 0 || d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil {
			return nil
		}
		typ := ""
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return nil
		}
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{Path: path, Type: typ, Major: int64(unix.Major(st.Rdev)),
			Minor: int64(unix.Minor(st.Rdev)), FileMode: &mode, UID: &uid, GID: &gid})
		return nil
	})
	return out
}
