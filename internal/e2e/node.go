package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/image/demo"
	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/runtime/oci"
	"kserver.dev/kserver/internal/server"
)

// Node is a `kserver server` running in-process with its embedded node
// agent on a real OCI runtime, inside a network namespace the test made:
// the CNI bridge, pod routes and hostPort rules live in that namespace,
// hostNetwork pods join it, and the root namespace's links, routes and
// rules are never touched. The offline demo images (busybox,
// luksa/kubia:…) are imported at start, as `make run` does.
type Node struct {
	*Cluster
	// NetNS is the node's network namespace; NetNSName is its `ip netns`
	// name.
	NetNS     *netns.NS
	NetNSName string
	// LogRoot holds the pods' logs (instead of /var/log/pods).
	LogRoot string
	Runtime string
}

// NodeOptions adjust StartNode.
type NodeOptions struct {
	// Runtime is "runc" (default) or "crun".
	Runtime string
	// Configure changes the server configuration after the defaults.
	Configure func(*server.Config)
}

// StartNode runs a one-node cluster on a real runtime for the test, or
// skips it when not root or when the runtime, conmon, the CNI plugins or
// the static busybox the demo images need are missing. Everything the
// node made — containers and their monitors, mounts, the runtime's state,
// pod cgroups — is removed when the test ends, also when it fails.
func StartNode(t *testing.T, o NodeOptions) *Node {
	t.Helper()
	netnstest.RequireRoot(t)
	if o.Runtime == "" {
		o.Runtime = "runc"
	}
	netnstest.RequireTool(t, o.Runtime)
	netnstest.RequireTool(t, "conmon")
	netnstest.RequireTool(t, "iptables")
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Skipf("CNI plugin %s is not installed in /usr/lib/cni (scripts/setup.sh installs containernetworking-plugins)", p)
		}
	}
	archive := demoArchive(t)
	ns := netnstest.New(t, "ksn")
	n := &Node{NetNS: ns, NetNSName: netnstest.Name(ns), LogRoot: t.TempDir(), Runtime: o.Runtime}
	var dataDir string
	t.Cleanup(func() { cleanupNode(t, o.Runtime, dataDir) }) // after the server stopped (cleanups run last first)
	n.Cluster = StartWith(t, func(c *server.Config) {
		dataDir = c.DataDir
		c.DisableAgent, c.Runtime = false, o.Runtime
		c.Agent = server.AgentOptions{NetNS: ns.Path(), LogRoot: n.LogRoot}
		images := filepath.Join(c.DataDir, "agent", "images")
		if err := os.MkdirAll(images, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(archive, filepath.Join(images, "demo.tar")); err != nil {
			t.Fatal(err)
		}
		if o.Configure != nil {
			o.Configure(c)
		}
	})
	return n
}

// Exec runs a command inside the node's network namespace (curl to a
// hostPort, …) and returns its combined output.
func (n *Node) Exec(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.NetNSName, name}, args...)...).CombinedOutput()
	return string(out), err
}

// WaitTornDown waits until the node holds no pod any more: no mounts
// below the data directory (root file systems, volumes, /dev/shm), no
// sandbox in the runtime's state, no pod folder, no CNI attachment.
func (n *Node) WaitTornDown(t testing.TB) {
	t.Helper()
	agentDir := filepath.Join(n.DataDir, "agent")
	left := func() []string {
		var out []string
		out = append(out, mountsBelow(n.DataDir)...)
		for _, d := range []string{"runtime/sandboxes", "runtime/containers", "pods", "cni/cache/results"} {
			entries, _ := os.ReadDir(filepath.Join(agentDir, d))
			for _, e := range entries {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if len(left()) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the node still holds pod state: %v", left())
}

// cleanupNode removes what a node left after its server stopped: the
// runtime's sandboxes (containers, monitors, pod cgroups, namespaces),
// then every mount below the data directory (root file systems, tmpfs
// volumes) and the runtime's run directory.
func cleanupNode(t *testing.T, rtName, dataDir string) {
	if dataDir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runDir := server.RuntimeRunDir(dataDir)
	rt, err := oci.Open(ctx, oci.Config{Runtime: rtName, RunDir: runDir, StateDir: filepath.Join(dataDir, "agent", "runtime")})
	if err != nil {
		t.Errorf("cleanup: open runtime: %v", err)
	} else {
		sbs, _ := rt.ListSandboxes(ctx)
		for _, sb := range sbs {
			if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
				t.Errorf("cleanup: remove sandbox %s/%s: %v", sb.Namespace, sb.Name, err)
			}
		}
	}
	for _, mp := range mountsBelow(dataDir) {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
			t.Errorf("cleanup: unmount %s: %v", mp, err)
		}
	}
	if err := os.RemoveAll(filepath.Dir(runDir)); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// mountsBelow lists the mount points below dir, deepest first.
func mountsBelow(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// MountsBelow is exported for tests that check nothing stayed mounted.
func MountsBelow(dir string) []string { return mountsBelow(dir) }

var demoBuild struct {
	sync.Mutex
	path string
}

// demoArchive builds the offline demo image set (cmd/kubia and the static
// busybox) once per version of their sources, cached in the user cache
// directory as the pinned kubectl is.
func demoArchive(t *testing.T) string {
	t.Helper()
	const busybox = "/bin/busybox"
	if fi, err := os.Stat(busybox); err != nil || fi.Mode()&0o111 == 0 {
		t.Skip("the demo images need the static busybox of busybox-static at /bin/busybox")
	}
	demoBuild.Lock()
	defer demoBuild.Unlock()
	if demoBuild.path != "" {
		return demoBuild.path
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	key, err := sourceKey(busybox, filepath.Join(root, "cmd", "kubia"), filepath.Join(root, "internal", "image", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	out := filepath.Join(cache, "kserver-e2e", "demo-images-"+key+".tar")
	if _, err := os.Stat(out); err == nil {
		demoBuild.path = out
		return out
	}
	dir := t.TempDir()
	kubia := filepath.Join(dir, "kubia")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", kubia, "./cmd/kubia")
	cmd.Dir = root
	cmd.Env = env(map[string]string{"CGO_ENABLED": "0"})
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/kubia: %v: %s", err, b)
	}
	imgs, err := demo.Build(demo.Options{Busybox: busybox, Kubia: kubia})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	if _, err := demo.WriteArchive(tmp, imgs); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	demoBuild.path = out
	return out
}

// sourceKey hashes the busybox binary's size and time and the Go files of
// the given folders.
func sourceKey(busybox string, dirs ...string) (string, error) {
	h := sha256.New()
	fi, err := os.Stat(busybox)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "%d %d\n", fi.Size(), fi.ModTime().UnixNano())
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.go"))
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.Open(f)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, b)
			b.Close()
			if err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
