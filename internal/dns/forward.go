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
	failed    map[string]time.Time
	checked   time.Time // last look at the resolver file
	modTime   time.Time // of the resolver file last read
}

func newForwarder(cfg Config, log *slog.Logger) *forwarder {
	return &forwarder{cfg: cfg, log: log, failed: map[string]time.Time{}}
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
		f.upstreams = f.upstreams[:0]
		for _, u := range f.cfg.Upstreams {
			a, _ := upstreamAddr(u) // validated
			f.upstreams = append(f.upstreams, a)
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
	ups, source, err := Upstreams(files, f.cfg.Listen)
	switch {
	case err != nil:
		f.log.Warn("cannot read the node's resolvers; names outside the cluster will not resolve", "err", err)
	case len(ups) == 0:
		f.log.Warn("the node's resolver files name no usable upstream; names outside the cluster will not resolve", "file", source)
	}
	if !slices.Equal(ups, f.upstreams) && f.upstreams != nil {
		f.log.Info("upstream resolvers changed", "upstreams", fmt.Sprint(ups), "file", source)
	}
	f.upstreams = ups
	if f.upstreams == nil {
		f.upstreams = []string{}
	}
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
	out := slices.Clone(f.upstreams)
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

// exchange sends req to the upstreams over UDP or TCP until one answers.
// The reply carries req's ID.
func (f *forwarder) exchange(ctx context.Context, req *mdns.Msg, tcp bool) (*mdns.Msg, error) {
	ups := f.list()
	if len(ups) == 0 {
		return nil, errNoUpstream
	}
	q := req.Copy()
	q.Id = mdns.Id()
	c := &mdns.Client{Net: "udp", Timeout: f.cfg.ForwardTimeout}
	if tcp {
		c.Net = "tcp"
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
// the upstreams, retrying over TCP when the UDP answer is truncated.
func (s *Server) resolveUpstream(ctx context.Context, name string, qtype uint16) (*mdns.Msg, error) {
	q := new(mdns.Msg).SetQuestion(mdns.Fqdn(name), qtype)
	q.SetEdns0(1232, false)
	key := keyOf(q)
	if m := s.cache.get(key, time.Now()); m != nil {
		return m, nil
	}
	m, err := s.fwd.exchange(ctx, q, false)
	if err == nil && m.Truncated {
		m, err = s.fwd.exchange(ctx, q, true)
	}
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
// node's network namespace, where a local stub (127.0.0.53) works — but
// without any address the server itself listens on with the same port,
// which would loop.
func Upstreams(files resolvconf.Files, listen []string) ([]string, string, error) {
	if files.Host == "" {
		files.Host = resolvconf.HostFile
	}
	if files.Systemd == "" {
		files.Systemd = resolvconf.SystemdFile
	}
	for _, path := range []string{files.Host, files.Systemd} {
		if c, err := resolvconf.ReadFile(path); err == nil && resolvconf.Usable(c.Nameservers) {
			return withPort(c.Nameservers, nil), path, nil
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
