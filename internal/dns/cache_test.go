package dns

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func mustRR(t *testing.T, s string) mdns.RR {
	t.Helper()
	rr, err := mdns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestAnswerCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newAnswerCache(2, 30*time.Second)
	q := new(mdns.Msg).SetQuestion("a.example.", mdns.TypeA)
	m := new(mdns.Msg).SetReply(q)
	m.Answer = []mdns.RR{mustRR(t, "a.example. 20 IN A 192.0.2.1"), mustRR(t, "a.example. 10 IN A 192.0.2.2")}
	c.put(keyOf(q), m, now)

	got := c.get(keyOf(q), now.Add(4*time.Second))
	if got == nil || got.Answer[0].Header().Ttl != 16 || got.Answer[1].Header().Ttl != 6 {
		t.Fatalf("aged answer: %v", got)
	}
	if m.Answer[0].Header().Ttl != 20 {
		t.Error("get changed the stored message")
	}
	if c.get(keyOf(q), now.Add(10*time.Second)) != nil {
		t.Error("answer kept past its smallest TTL")
	}

	// Capped at the cache's maximum TTL.
	long := new(mdns.Msg).SetReply(q)
	long.Answer = []mdns.RR{mustRR(t, "a.example. 3600 IN A 192.0.2.1")}
	c.put(keyOf(q), long, now)
	if c.get(keyOf(q), now.Add(29*time.Second)) == nil || c.get(keyOf(q), now.Add(30*time.Second)) != nil {
		t.Error("long TTL not capped at 30s")
	}

	// Negative answers live min(SOA TTL, MINIMUM); without SOA not at all.
	nq := new(mdns.Msg).SetQuestion("n.example.", mdns.TypeA)
	nx := new(mdns.Msg).SetRcode(nq, mdns.RcodeNameError)
	nx.Ns = []mdns.RR{mustRR(t, "example. 60 IN SOA ns. host. 1 7200 1800 86400 7")}
	c.put(keyOf(nq), nx, now)
	if c.get(keyOf(nq), now.Add(6*time.Second)) == nil || c.get(keyOf(nq), now.Add(7*time.Second)) != nil {
		t.Error("negative answer not kept for the SOA minimum")
	}
	bq := new(mdns.Msg).SetQuestion("bare.example.", mdns.TypeA)
	c.put(keyOf(bq), new(mdns.Msg).SetRcode(bq, mdns.RcodeNameError), now)
	if c.get(keyOf(bq), now) != nil {
		t.Error("negative answer without SOA was cached")
	}

	// Failures, truncated answers and TTL 0 are not kept.
	for _, bad := range []*mdns.Msg{
		new(mdns.Msg).SetRcode(q, mdns.RcodeServerFailure),
		func() *mdns.Msg { x := m.Copy(); x.Truncated = true; return x }(),
		func() *mdns.Msg {
			x := new(mdns.Msg).SetReply(q)
			x.Answer = []mdns.RR{mustRR(t, "a.example. 0 IN A 192.0.2.1")}
			return x
		}(),
	} {
		k := keyOf(new(mdns.Msg).SetQuestion("bad.example.", mdns.TypeA))
		c.put(k, bad, now)
		if c.get(k, now) != nil {
			t.Errorf("cached %v", bad)
		}
	}

	// The DO bit is part of the key; the size bound holds.
	do := q.Copy()
	do.SetEdns0(1232, true)
	if keyOf(do) == keyOf(q) {
		t.Error("DO bit not in the cache key")
	}
	for i, name := range []string{"x.example.", "y.example.", "z.example."} {
		k := keyOf(new(mdns.Msg).SetQuestion(name, mdns.TypeA))
		c.put(k, m, now.Add(time.Duration(i)))
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n > 2 {
		t.Errorf("cache holds %d entries, bound 2", n)
	}
}
