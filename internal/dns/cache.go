package dns

import (
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// answerCache keeps forwarded answers for their TTL, capped (k3s runs
// CoreDNS with `cache 30`). Positive answers live for their smallest TTL,
// negative ones (NXDOMAIN, NODATA) for their SOA's negative TTL; truncated
// answers, failures and TTL 0 are not kept. When full, an arbitrary entry
// makes room. Answers served from it have their TTLs aged.
type answerCache struct {
	max    int
	maxTTL time.Duration

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	name         string // lower case
	qtype, class uint16
	do, cd       bool
}

type cacheEntry struct {
	msg     *mdns.Msg
	stored  time.Time
	expires time.Time
}

func newAnswerCache(size int, maxTTL time.Duration) *answerCache {
	return &answerCache{max: size, maxTTL: maxTTL, entries: map[cacheKey]cacheEntry{}}
}

func keyOf(r *mdns.Msg) cacheKey {
	q := r.Question[0]
	k := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, class: q.Qclass, cd: r.CheckingDisabled}
	if opt := r.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k
}

// get returns a copy of the cached answer with TTLs reduced by its age, or
// nil.
func (c *answerCache) get(k cacheKey, now time.Time) *mdns.Msg {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.expires) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	m := e.msg.Copy()
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != mdns.TypeOPT {
				h.Ttl -= min(age, h.Ttl)
			}
		}
	}
	return m
}

// put keeps m if it may be cached.
func (c *answerCache) put(k cacheKey, m *mdns.Msg, now time.Time) {
	if c.max <= 0 || m.Truncated {
		return
	}
	ttl, ok := cacheTTL(m)
	if !ok {
		return
	}
	ttl = min(ttl, c.maxTTL)
	if ttl <= 0 {
		return
	}
	cp := m.Copy()
	stripOPT(cp)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[k]; !exists && len(c.entries) >= c.max {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = cacheEntry{msg: cp, stored: now, expires: now.Add(ttl)}
}

// cacheTTL is how long m may be kept: the smallest TTL of its answer (and
// authority) records for a positive answer; for NXDOMAIN or NODATA the
// smaller of the SOA's TTL and MINIMUM (RFC 2308).
func cacheTTL(m *mdns.Msg) (time.Duration, bool) {
	switch m.Rcode {
	case mdns.RcodeSuccess, mdns.RcodeNameError:
	default:
		return 0, false
	}
	if m.Rcode == mdns.RcodeSuccess && len(m.Answer) > 0 {
		ttl := ^uint32(0)
		for _, sec := range [][]mdns.RR{m.Answer, m.Ns} {
			for _, rr := range sec {
				ttl = min(ttl, rr.Header().Ttl)
			}
		}
		return time.Duration(ttl) * time.Second, true
	}
	for _, rr := range m.Ns {
		if soa, ok := rr.(*mdns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second, true
		}
	}
	return 0, false // a negative answer without SOA says nothing about its lifetime
}
