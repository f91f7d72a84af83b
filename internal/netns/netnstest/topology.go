package netnstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns"
)

// IP runs `ip -n <ns> args...` and fails the test on error.
func IP(t testing.TB, ns *netns.NS, args ...string) {
	t.Helper()
	full := append([]string{"-n", Name(ns)}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
}

// Exec runs a command inside the namespace and returns its combined output.
func Exec(ns *netns.NS, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := append([]string{"netns", "exec", Name(ns)}, args...)
	out, err := exec.CommandContext(ctx, "ip", full...).CombinedOutput()
	return string(out), err
}

// Bridge creates a bridge with the given address (CIDR) inside node and
// turns on forwarding there, as the gateway of the pods on it.
func Bridge(t testing.TB, node *netns.NS, name, cidr string) {
	t.Helper()
	Sysctl(t, node, "net.ipv4.ip_forward", "1")
	Sysctl(t, node, "net.ipv6.conf.all.forwarding", "1")
	IP(t, node, "link", "add", name, "type", "bridge")
	IP(t, node, "addr", "add", cidr, "dev", name)
	IP(t, node, "link", "set", name, "up")
}

// Pod creates a namespace wired to bridge (inside node) by a veth pair
// with hairpin mode on, with address cidr on its eth0 and a default route
// via gw. The namespace is removed when the test ends.
func Pod(t testing.TB, node *netns.NS, bridge, cidr, gw string) *netns.NS {
	t.Helper()
	pod := New(t, "pod")
	host := "veth" + random(4)
	IP(t, node, "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", Name(pod))
	IP(t, node, "link", "set", host, "master", bridge, "up")
	IP(t, node, "link", "set", host, "type", "bridge_slave", "hairpin", "on")
	IP(t, pod, "addr", "add", cidr, "dev", "eth0")
	IP(t, pod, "link", "set", "eth0", "up")
	if gw != "" {
		IP(t, pod, "route", "add", "default", "via", gw)
	}
	return pod
}

// Link joins two namespaces with a veth pair: aName in a with aCIDR, bName
// in b with bCIDR (the "underlay" between two test nodes).
func Link(t testing.TB, a *netns.NS, aName, aCIDR string, b *netns.NS, bName, bCIDR string) {
	t.Helper()
	IP(t, a, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", Name(b))
	IP(t, a, "addr", "add", aCIDR, "dev", aName)
	IP(t, a, "link", "set", aName, "up")
	IP(t, b, "addr", "add", bCIDR, "dev", bName)
	IP(t, b, "link", "set", bName, "up")
}

// Serve runs busybox httpd on port inside ns, answering body for "/" and
// the client's address for "/cgi-bin/addr", until the test ends; it
// returns once the server accepts connections.
func Serve(t testing.TB, ns *netns.NS, addr string, port int, body string) {
	t.Helper()
	RequireTool(t, "busybox")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cgi := "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"$REMOTE_ADDR\"\n"
	if err := os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgi-bin", "addr"), []byte(cgi), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", Name(ns), "busybox", "httpd", "-f", "-p", fmt.Sprint(port), "-h", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	target := net.JoinHostPort(addr, fmt.Sprint(port))
	Eventually(t, 5*time.Second, func() error {
		if _, err := Get(ns, target); err != nil {
			return fmt.Errorf("httpd on %s not up: %w", target, err)
		}
		return nil
	})
}

// Get fetches http://target/ from inside ns with busybox wget (its -T
// option crashes the Debian 12 build, so the command has a deadline instead).
func Get(ns *netns.NS, target string) (string, error) {
	out, err := Exec(ns, 5*time.Second, "busybox", "wget", "-q", "-O", "-", "http://"+target+"/")
	return strings.TrimSpace(out), err
}

// ClientAddr asks a server started by Serve which address it saw the
// request come from.
func ClientAddr(ns *netns.NS, target string) (string, error) {
	out, err := Exec(ns, 5*time.Second, "busybox", "wget", "-q", "-O", "-", "http://"+target+"/cgi-bin/addr")
	addr := strings.TrimSpace(out)
	// busybox httpd listens on IPv6 and reports IPv4 clients mapped.
	addr = strings.TrimPrefix(strings.TrimSuffix(addr, "]"), "[")
	return strings.TrimPrefix(addr, "::ffff:"), err
}

// Eventually retries f until it succeeds or the deadline passes.
func Eventually(t testing.TB, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	delay := 10 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", within, err)
		}
		time.Sleep(delay)
		delay = min(delay*2, 200*time.Millisecond)
	}
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n*2]
}

// Sysctl sets a per-namespace sysctl inside ns.
func Sysctl(t testing.TB, ns *netns.NS, key, value string) {
	t.Helper()
	if out, err := Exec(ns, 5*time.Second, "sysctl", "-qw", key+"="+value); err != nil {
		t.Fatalf("sysctl %s=%s: %v: %s", key, value, err, out)
	}
}
