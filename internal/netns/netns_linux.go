package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultDir is where named namespaces are bind-mounted, as `ip netns` does.
const DefaultDir = "/run/netns"

// NS is an open network namespace.
type NS struct {
	path string
	fd   vnetns.NsHandle
}

// Create makes a new network namespace bind-mounted at dir/name and returns
// it open. The calling goroutine's namespace is unchanged.
func Create(dir, name string) (*NS, error) {
	if name == "" || filepath.Base(name) != name {
		return nil, fmt.Errorf("invalid network namespace name %q", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create netns dir: %w", err)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("network namespace %s: %w", path, os.ErrExist)
	}
	// Create the mount point first so a failure later leaves nothing mounted.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return nil, fmt.Errorf("create netns file: %w", err)
	}
	_ = f.Close()

	errc := make(chan error, 1)
	go func() {
		// This goroutine's thread gets the new namespace; it is never
		// unlocked, so the runtime discards the thread when it exits.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare netns: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind-mount netns: %w", err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	ns, err := Open(path)
	if err != nil {
		_ = unmount(path)
		return nil, err
	}
	return ns, nil
}

// Open opens the namespace at path (a bind mount or /proc/<pid>/ns/net).
func Open(path string) (*NS, error) {
	fd, err := vnetns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", path, err)
	}
	return &NS{path: path, fd: fd}, nil
}

// Path is the file the namespace was opened from.
func (n *NS) Path() string { return n.path }

// Fd is the open file descriptor of the namespace, valid until Close.
func (n *NS) Fd() int { return int(n.fd) }

// Handle is the namespace as vishvananda/netns knows it (for netlink.NewHandleAt).
func (n *NS) Handle() vnetns.NsHandle { return n.fd }

// Close releases the file descriptor; the namespace lives on while mounted.
func (n *NS) Close() error {
	if n.fd < 0 {
		return nil
	}
	err := n.fd.Close()
	n.fd = -1
	return err
}

// Do runs fn with the calling goroutine switched into the namespace.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := vnetns.Set(n.fd); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", n.path, err)
			return
		}
		ferr := fn()
		if err := vnetns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Remove unmounts and deletes the namespace at dir/name. Removing a
// namespace that does not exist is not an error: teardown is idempotent.
func Remove(dir, name string) error {
	path := filepath.Join(dir, name)
	if err := unmount(path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns file: %w", err)
	}
	return nil
}

func unmount(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount netns %s: %w", path, err)
}

// List returns the names of the namespaces bind-mounted in dir, so that a
// restarted agent can find sandboxes left behind by a crash.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list netns: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
