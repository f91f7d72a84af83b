package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"

	"kserver.dev/kserver/internal/dns/resolvconf"
)

// errNoUpstream is the failure of a forwarded query when no upstream
// resolver is known.
var errNoUpstream = errors.New("no upstream resolver")

const (
	// reloadEvery is how often the node's resolver file is checked for
	// changes (DHCP, VPNs and NetworkManager rewrite it).
	reloadEvery = 5 * time.Second
	// failedFor is how long an upstream that failed is tried last.
	failedFor = 10 * time.Second
)

// forwarder sends queries to the upstream resolvers: in random order
// (CoreDNS forward's default policy), recently failed ones last, each
// tried once per query.
type forwarder struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	upstreams []string // ip:port
	gen       int      // counts changes of upstreams
	failed    map[string]time.Time
	looping   map[string]bool // send our queries back to us (loop.go)
	checked   time.Time       // last look at the resolver file
	modTime   time.Time       // of the resolver file last read

	probeName string      // the loop probe's question, fixed
	probeMu   sync.Mutex  // one loop check at a time
	probing   atomic.Bool // a probe is out: count its return
	probeHits atomic.Int32
}

func newForwarder(cfg Config, log *slog.Logger) *forwarder {
	return &forwarder{cfg: cfg, log: log, failed: map[string]time.Time{},
		looping: map[string]bool{}, probeName: newProbeName()}
}

// load reads the upstream list: the configured one, else the node's.
func (f *forwarder) load() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadLocked(time.Now())
}

func (f *forwarder) loadLocked(now time.Time) {
	f.checked = now
	if len(f.cfg.Upstreams) > 0 {
		ups := []string{}
		for _, u := range f.cfg.Upstreams {
			a, _ := upstreamAddr(u) // validated
			ups = append(ups, a)
		}
		if !slices.Equal(ups, f.upstreams) {
			f.upstreams = ups
			f.gen++
		}
		return
	}
	files := f.cfg.ResolvFiles
	if files.Host == "" {
		files.Host = resolvconf.HostFile
	}
	if st, err := os.Stat(files.Host); err == nil {
		f.modTime = st.ModTime()
	}
	ups, source, err := Upstreams(files, f.ownAddrs())
	switch {
	case err != nil:
		f.log.Warn("cannot read the node's resolvers; names outside the cluster will not resolve", "err", err)
	case len(ups) == 0:
		f.log.Warn("the node's resolver files name no usable upstream; names outside the cluster will not resolve", "file", source)
	}
	if !slices.Equal(ups, f.upstreams) && f.upstreams != nil {
		f.log.Info("upstream resolvers changed", "upstreams", fmt.Sprint(ups), "file", source)
	}
	if ups == nil {
		ups = []string{}
	}
	if !slices.Equal(ups, f.upstreams) || f.upstreams == nil {
		f.gen++
	}
	f.upstreams = ups
}

// ownAddrs are the addresses this server answers at: its listen
// addresses and the cluster DNS Service addresses on port 53.
func (f *forwarder) ownAddrs() []string {
	own := slices.Clone(f.cfg.Listen)
	for _, a := range f.cfg.ClusterDNS {
		own = append(own, netip.AddrPortFrom(a.Unmap(), 53).String())
	}
	return own
}

// list returns the upstreams in the order to try them, reloading the
// node's resolver file when it changed.
func (f *forwarder) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if len(f.cfg.Upstreams) == 0 && now.Sub(f.checked) >= reloadEvery {
		f.checked = now
		if st, err := os.Stat(f.hostFile()); err == nil && !st.ModTime().Equal(f.modTime) {
			f.loadLocked(now)
		}
	}
	out := slices.DeleteFunc(slices.Clone(f.upstreams), func(u string) bool { return f.looping[u] })
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	slices.SortStableFunc(out, func(a, b string) int {
		fa, fb := now.Sub(f.failed[a]) < failedFor, now.Sub(f.failed[b]) < failedFor
		switch {
		case fa == fb:
			return 0
		case fb:
			return -1
		}
		return 1
	})
	return out
}

func (f *forwarder) hostFile() string {
	if f.cfg.ResolvFiles.Host != "" {
		return f.cfg.ResolvFiles.Host
	}
	return resolvconf.HostFile
}

func (f *forwarder) markFailed(u string) {
	f.mu.Lock()
	f.failed[u] = time.Now()
	f.mu.Unlock()
}

// exchange sends req to the upstreams until one answers, each bounded by
// Config.ForwardTimeout, as CoreDNS's forward plugin does: an upstream
// that does not answer in time or refuses the connection is marked failed
// and the next one is tried. Over UDP, a truncated answer is asked again
// of the same upstream over TCP (forward's prefer_udp behaviour), so the
// cache holds the whole answer and clients that never retry over TCP
// (musl before 1.2.4) still get every record that fits their buffer; if
// that TCP exchange fails the truncated answer is returned and the client
// may retry. The reply carries req's ID.
func (f *forwarder) exchange(ctx context.Context, req *mdns.Msg, tcp bool) (*mdns.Msg, error) {
	ups := f.list()
	if len(ups) == 0 {
		return nil, errNoUpstream
	}
	q := req.Copy()
	q.Id = mdns.Id()
	udp := &mdns.Client{Net: "udp", Timeout: f.cfg.ForwardTimeout}
	stream := &mdns.Client{Net: "tcp", Timeout: f.cfg.ForwardTimeout}
	c := udp
	if tcp {
		c = stream
	}
	var errs []error
	for _, u := range ups {
		if ctx.Err() != nil {
			break
		}
		m, _, err := c.ExchangeContext(ctx, q, u)
		if err != nil {
			f.markFailed(u)
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		if m.Truncated && !tcp {
			if whole, _, err := stream.ExchangeContext(ctx, q, u); err == nil {
				m = whole
			} else {
				f.log.Debug("truncated answer, TCP retry failed", "upstream", u, "err", err)
			}
		}
		m.Id = req.Id
		return m, nil
	}
	if len(errs) == 0 {
		errs = append(errs, ctx.Err())
	}
	return nil, fmt.Errorf("forward %s: %w", req.Question[0].Name, errors.Join(errs...))
}

// forward answers r through the cache and the upstreams; it never fails:
// an upstream failure is a SERVFAIL reply.
func (s *Server) forward(ctx context.Context, r *mdns.Msg, tcp bool) *mdns.Msg {
	key := keyOf(r)
	if m := s.cache.get(key, time.Now()); m != nil {
		m.Id = r.Id
		return m
	}
	m, err := s.fwd.exchange(ctx, r, tcp)
	if err != nil {
		s.log.Debug("forward", "err", err)
		fail := new(mdns.Msg).SetRcode(r, mdns.RcodeServerFailure)
		fail.RecursionAvailable = true
		return fail
	}
	s.cache.put(key, m, time.Now())
	return m
}

// resolveUpstream looks up an ExternalName target through the cache and
// the upstreams.
func (s *Server) resolveUpstream(ctx context.Context, name string, qtype uint16) (*mdns.Msg, error) {
	q := new(mdns.Msg).SetQuestion(mdns.Fqdn(name), qtype)
	q.SetEdns0(1232, false)
	key := keyOf(q)
	if m := s.cache.get(key, time.Now()); m != nil {
		return m, nil
	}
	m, err := s.fwd.exchange(ctx, q, false) // retries a truncated answer over TCP
	if err != nil {
		return nil, err
	}
	s.cache.put(key, m, time.Now())
	return m, nil
}

// Upstreams returns the resolvers the DNS server forwards to when none are
// configured, and the file they come from: the nameservers of the first
// of the node's resolver files whose nameservers are all global unicast
// (resolvconf.Host's choice, so pods and the server agree); else those of
// the host file, loopback resolvers included — the server runs in the
// node's network namespace, where a local stub (127.0.0.53) works. In
// both cases addresses the server answers at are left out, which would
// loop: listen holds its listen addresses and the cluster DNS Service
// addresses (a node whose resolv.conf names 10.43.0.10 reaches this same
// server through the Service).
func Upstreams(files resolvconf.Files, listen []string) ([]string, string, error) {
	if files.Host == "" {
		files.Host = resolvconf.HostFile
	}
	if files.Systemd == "" {
		files.Systemd = resolvconf.SystemdFile
	}
	for _, path := range []string{files.Host, files.Systemd} {
		if c, err := resolvconf.ReadFile(path); err == nil && resolvconf.Usable(c.Nameservers) {
			if ups := withPort(c.Nameservers, listen); len(ups) > 0 {
				return ups, path, nil
			}
		}
	}
	c, err := resolvconf.ReadFile(files.Host)
	if err != nil {
		return nil, files.Host, err
	}
	return withPort(c.Nameservers, listen), files.Host, nil
}

// withPort turns nameserver addresses into ip:53, dropping unparsable ones
// and those the server listens on.
func withPort(servers, listen []string) []string {
	out := []string{}
	for _, s := range servers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		ap := netip.AddrPortFrom(a.Unmap(), 53)
		if isOwn(ap, listen) {
			continue
		}
		out = append(out, ap.String())
	}
	return out
}

// isOwn reports whether the server answers at ap: it listens there, or
// on a wildcard address of the same port and ap is a loopback address.
func isOwn(ap netip.AddrPort, listen []string) bool {
	for _, l := range listen {
		host, port, err := net.SplitHostPort(l)
		if err != nil || port != strconv.Itoa(int(ap.Port())) {
			continue
		}
		la, err := netip.ParseAddr(host)
		if host == "" || (err == nil && la.IsUnspecified()) {
			if ap.Addr().IsLoopback() {
				return true
			}
			continue
		}
		if err == nil && la.Unmap() == ap.Addr() {
			return true
		}
	}
	return false
}
