package dns

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Forwarding loops. When the node's resolver sends the queries this server
// forwards back to it — a stub (dnsmasq, systemd-resolved) configured with
// the node address the server listens on, a resolv.conf naming an address
// that is redirected here — one query becomes an endless chain of queries.
// As CoreDNS's loop plugin does, the server asks each upstream for a
// random name nobody else asks (two numeric labels under the root); if
// that name reaches the server, the upstream loops. Unlike CoreDNS, which
// halts (the CrashLoopBackOff k3s users meet), the server stops forwarding
// to that upstream, logs why, and keeps answering the cluster's names. The
// probe, when it comes back, is answered SERVFAIL at once, so it ends after
// one round. Upstreams are probed when the server starts and whenever the
// list changes — only those on this host (loopback or one of its
// addresses): a stub there is where such loops come from, and the probe
// never leaves the machine. A remote resolver sending queries back is not
// looked for.

// newProbeName returns the name the loop probe asks for.
func newProbeName() string {
	return strconv.FormatUint(rand.Uint64(), 10) + "." + strconv.FormatUint(rand.Uint64(), 10) + "."
}

// isProbe reports whether a query for name is this server's loop probe
// coming back, and counts it while a probe is out.
func (f *forwarder) isProbe(name string) bool {
	if !strings.EqualFold(name, f.probeName) {
		return false
	}
	if f.probing.Load() {
		f.probeHits.Add(1)
	}
	return true
}

// watch re-reads the node's resolver file every reloadEvery and probes
// the upstreams for loops at start and after every change, until ctx ends.
func (f *forwarder) watch(ctx context.Context) {
	gen := -1
	t := time.NewTicker(reloadEvery)
	defer t.Stop()
	for {
		f.list() // reloads a changed file
		f.mu.Lock()
		g := f.gen
		f.mu.Unlock()
		if g != gen {
			gen = g
			f.checkLoops(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkLoops sends the probe to each upstream in turn and marks those it
// comes back from as looping, so list leaves them out.
func (f *forwarder) checkLoops(ctx context.Context) {
	f.probeMu.Lock()
	defer f.probeMu.Unlock()
	f.mu.Lock()
	ups := append([]string(nil), f.upstreams...)
	f.mu.Unlock()
	c := &mdns.Client{Net: "udp", Timeout: f.cfg.ForwardTimeout}
	q := new(mdns.Msg).SetQuestion(f.probeName, mdns.TypeHINFO)
	local := hostAddrs()
	for _, u := range ups {
		if ctx.Err() != nil {
			return
		}
		if !onHost(u, local) {
			continue
		}
		f.probeHits.Store(0)
		f.probing.Store(true)
		_, _, err := c.ExchangeContext(ctx, q, u)
		f.probing.Store(false)
		loops := f.probeHits.Load() > 0
		f.mu.Lock()
		was := f.looping[u]
		if loops {
			f.looping[u] = true
		} else {
			delete(f.looping, u)
		}
		f.mu.Unlock()
		switch {
		case loops && !was:
			f.log.Error("forwarding loop: this upstream resolver sends queries back to the cluster DNS server; not forwarding to it (point the node's resolv.conf at a resolver that does not forward to the cluster DNS)", "upstream", u)
		case !loops && was:
			f.log.Info("upstream resolver no longer loops; forwarding to it again", "upstream", u)
		case err != nil:
			f.log.Debug("loop probe", "upstream", u, "err", err)
		}
	}
}

// onHost reports whether the upstream u ("ip:port") is on this host:
// loopback, or one of local's addresses.
func onHost(u string, local map[netip.Addr]bool) bool {
	ap, err := netip.ParseAddrPort(u)
	return err == nil && (ap.Addr().IsLoopback() || local[ap.Addr().Unmap()])
}

// hostAddrs are the addresses of this host's interfaces (in the process's
// network namespace, where forwarded queries leave from).
func hostAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out[ip.Unmap()] = true
			}
		}
	}
	return out
}
