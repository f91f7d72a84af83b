// Package netnstest gives privileged tests their throwaway network
// namespaces. Every namespace it makes is removed by t.Cleanup, also when
// the test fails, and none of its functions touches the root namespace.
package netnstest

import (
	"os"
	"os/exec"
	"testing"

	"kserver.dev/kserver/internal/netns"
)

// RequireRoot skips the test unless it runs as root. It is the one helper
// every root-only test calls first (CI runs as root, so they run there).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, netlink, nftables)")
	}
}

// RequireTool skips the test when a program it drives is not installed.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (scripts/setup.sh test installs it)", name)
	}
	return p
}

// New creates a network namespace named "<prefix>-<random>" under
// /run/netns, brings its loopback up and removes it when the test ends.
func New(t testing.TB, prefix string) *netns.NS {
	t.Helper()
	RequireRoot(t)
	name := prefix + "-" + random(4)
	ns, err := netns.Create(netns.DefaultDir, name)
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() {
		_ = ns.Close()
		if err := netns.Remove(netns.DefaultDir, name); err != nil {
			t.Errorf("remove netns %s: %v", name, err)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v: %s", name, err, out)
	}
	return ns
}

// Name is the name `ip -n` knows a namespace made by New by.
func Name(ns *netns.NS) string {
	p := ns.Path()
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
