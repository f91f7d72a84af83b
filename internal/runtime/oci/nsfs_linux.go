package oci

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Sandboxes hold their IPC, UTS and (when the caller supplies none)
// network namespaces without any process: each namespace is made on a
// throwaway OS thread and bind-mounted on a file, as `ip netns add` does.
// This costs two mounts per pod instead of a pause process and its
// monitor. A shared PID namespace cannot be held that way (it dies with
// its first process), so only shareProcessNamespace pods get a pause
// process.

var nsFlags = map[string]int{"ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS, "net": unix.CLONE_NEWNET}

// pinNamespaces makes new namespaces of the given kinds ("ipc", "uts",
// "net") and bind-mounts each on dir/<kind>. A new UTS namespace gets the
// hostname, a new network namespace its loopback up.
func pinNamespaces(dir string, kinds []string, hostname string) error {
	if len(kinds) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("pin namespaces: %w", err)
	}
	flags := 0
	for _, k := range kinds {
		flags |= nsFlags[k]
		f, err := os.OpenFile(filepath.Join(dir, k), os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if err != nil {
			return fmt.Errorf("pin namespaces: %w", err)
		}
		_ = f.Close()
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// Remember the thread's namespaces to return to them: a thread left
		// in the new ones is discarded when this goroutine ends, except the
		// main thread, which Go can only park for good, keeping the
		// namespaces alive.
		var orig []int
		for _, k := range kinds {
			fd, err := unix.Open("/proc/thread-self/ns/"+k, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				closeFDs(orig)
				goruntime.UnlockOSThread()
				errc <- fmt.Errorf("open current %s namespace: %w", k, err)
				return
			}
			orig = append(orig, fd)
		}
		defer closeFDs(orig)
		err := enterNew(dir, kinds, flags, hostname)
		for i, k := range kinds {
			if serr := unix.Setns(orig[i], nsFlags[k]); serr != nil {
				errc <- errors.Join(err, fmt.Errorf("return to the %s namespace: %w", k, serr))
				return // the thread stays locked and is not reused
			}
		}
		goruntime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		for _, k := range kinds {
			_ = unpin(filepath.Join(dir, k))
		}
		return fmt.Errorf("pin namespaces: %w", err)
	}
	return nil
}

// enterNew moves the calling (locked) thread into new namespaces, sets them
// up and bind-mounts them on dir/<kind>.
func enterNew(dir string, kinds []string, flags int, hostname string) error {
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	if flags&unix.CLONE_NEWUTS != 0 {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", hostname, err)
		}
	}
	if flags&unix.CLONE_NEWNET != 0 {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	tid := strconv.Itoa(unix.Gettid())
	for _, k := range kinds {
		src := "/proc/self/task/" + tid + "/ns/" + k
		if err := unix.Mount(src, filepath.Join(dir, k), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount %s namespace: %w", k, err)
		}
	}
	return nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// loopbackUp sets IFF_UP on lo in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// unpin unmounts and removes a pinned namespace file; gone is fine.
func unpin(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// nsfsMagic is the filesystem magic of namespace files.
const nsfsMagic = 0x6e736673

// pinned reports whether path is a mounted namespace file.
func pinned(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == nsfsMagic
}

// dialInNetNS connects to port on loopback inside the network namespace at
// nsPath ("" = the current one). The socket is made on a thread switched
// into the namespace and keeps that namespace after the thread switches
// back; a thread that cannot switch back is discarded.
func dialInNetNS(nsPath string, port int32) (net.Conn, error) {
	dial := func() (net.Conn, error) {
		c, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
		if err != nil {
			if c6, err6 := net.DialTimeout("tcp6", net.JoinHostPort("::1", strconv.Itoa(int(port))), 5*time.Second); err6 == nil {
				return c6, nil
			}
		}
		return c, err
	}
	if nsPath == "" {
		return dial()
	}
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("open current network namespace: %w", err)}
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("open network namespace %s: %w", nsPath, err)}
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			goruntime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("enter network namespace %s: %w", nsPath, err)}
			return
		}
		c, err := dial()
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			ch <- result{c, err} // thread stays locked and dies with the goroutine
			return
		}
		goruntime.UnlockOSThread()
		ch <- result{c, err}
	}()
	res := <-ch
	return res.c, res.err
}
