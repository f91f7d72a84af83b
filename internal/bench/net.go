package bench

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"kserver.dev/kserver/internal/netns"
)

// The network benchmarks (N1–N4) build their "nodes" out of network
// namespaces they create and always remove; the root namespace is never
// changed. They need root.

// topo is a set of namespaces made for one benchmark.
type topo struct {
	names []string
	nss   []*netns.NS
}

func needRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces and nftables)")
	}
	return nil
}

// ns creates a namespace "kb-<role>-<random>" with loopback up.
func (t *topo) ns(role string) (*netns.NS, error) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "kb-" + role + "-" + hex.EncodeToString(b)
	n, err := netns.Create(netns.DefaultDir, name)
	if err != nil {
		return nil, err
	}
	t.names, t.nss = append(t.names, name), append(t.nss, n)
	return n, ipIn(n, "link", "set", "lo", "up")
}

// Close removes every namespace (and with them their links and tables).
func (t *topo) Close() error {
	var errs []error
	for i, n := range t.nss {
		_ = n.Close()
		errs = append(errs, netns.Remove(netns.DefaultDir, t.names[i]))
	}
	return errors.Join(errs...)
}

func nsName(n *netns.NS) string {
	p := n.Path()
	return p[strings.LastIndexByte(p, '/')+1:]
}

func ipIn(n *netns.NS, args ...string) error {
	full := append([]string{"-n", nsName(n)}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(full, " "), err, out)
	}
	return nil
}

func ipAll(n *netns.NS, cmds ...[]string) error {
	for _, c := range cmds {
		if err := ipIn(n, c...); err != nil {
			return err
		}
	}
	return nil
}

// link joins a and b with a veth pair (aName/aCIDR, bName/bCIDR).
func link(a *netns.NS, aName, aCIDR string, b *netns.NS, bName, bCIDR string) error {
	return errors.Join(
		ipIn(a, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", nsName(b)),
		ipAll(a, []string{"addr", "add", aCIDR, "dev", aName}, []string{"link", "set", aName, "up"}),
		ipAll(b, []string{"addr", "add", bCIDR, "dev", bName}, []string{"link", "set", bName, "up"}))
}

// sink accepts TCP connections on addr inside n: it reads everything
// (stream tests) and closes. Stop with the returned function.
func sink(n *netns.NS, addr string) (stop func(), err error) {
	var ln net.Listener
	if err := n.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return func() { ln.Close(); wg.Wait() }, nil
}

// connectLatency dials target from inside n count times (each connection
// closed at once) and returns the sorted connect times.
func connectLatency(n *netns.NS, target string, count int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, count)
	err := n.Do(func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		for range count {
			start := time.Now()
			c, err := d.Dial("tcp", target)
			if err != nil {
				return fmt.Errorf("connect %s: %w", target, err)
			}
			lat = append(lat, time.Since(start))
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
		return nil
	})
	slices.Sort(lat)
	return lat, err
}

// stream sends for d over one TCP connection from inside n and returns
// the goodput in Gbit/s.
func stream(n *netns.NS, target string, d time.Duration) (float64, error) {
	var sent int64
	err := n.Do(func() error {
		c, err := net.DialTimeout("tcp", target, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 128<<10)
		deadline := time.Now().Add(d)
		_ = c.SetWriteDeadline(deadline)
		for time.Now().Before(deadline) {
			k, err := c.Write(buf)
			sent += int64(k)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				return err
			}
		}
		return nil
	})
	return float64(sent) * 8 / d.Seconds() / 1e9, err
}

// cpuTime is this process's user+system CPU time (system time includes
// the kernel's work on our netlink transactions).
func cpuTime() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
