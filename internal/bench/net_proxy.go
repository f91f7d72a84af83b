package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"slices"
	"time"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/nft"
	"kserver.dev/kserver/internal/proxy"
)

// serviceSet returns n Service ports with eps endpoints each: ClusterIPs
// counted up from 172.30.0.1 (a /15 holds 30k), endpoints from
// 10.0.0.0/8 (or all the one backend when backend is valid).
func serviceSet(n, eps int, backend netip.Addr) []proxy.Service {
	out := make([]proxy.Service, n)
	base := netip.MustParseAddr("172.30.0.0").As4()
	for i := range out {
		k := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(i+1)
		s := proxy.Service{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i), Protocol: nft.TCP, Port: 80,
			ClusterIP: netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})}
		for j := range eps {
			ip := backend
			if !ip.IsValid() {
				e := uint32(i*eps + j + 1)
				ip = netip.AddrFrom4([4]byte{10, byte(e >> 16), byte(e >> 8), byte(e)})
			}
			s.Endpoints = append(s.Endpoints, proxy.Endpoint{IP: ip, Port: 8080, Ready: true, Serving: true})
		}
		out[i] = s
	}
	return out
}

func newProxier(ns *netns.NS) (*proxy.Proxier, error) {
	return proxy.New(proxy.Config{Family: nft.IPv4, NetNSFd: ns.Fd()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// n1Env is a client namespace routing the Service range to a backend
// namespace, twice: once programmed by our proxier, once with
// iptables-style linear rules.
type n1Env struct {
	topo
	nftCli, iptCli *netns.NS
	lastVIP        string
	stops          []func()
}

func (e *n1Env) Close() error {
	for _, s := range e.stops {
		s()
	}
	return e.topo.Close()
}

func n1Setup(services int) func(ctx context.Context, env *Env) (any, error) {
	return func(ctx context.Context, env *Env) (any, error) {
		if err := needRoot(); err != nil {
			return nil, err
		}
		e := &n1Env{}
		ok := false
		defer func() {
			if !ok {
				e.Close()
			}
		}()
		backend := netip.MustParseAddr("10.0.0.1")
		svcs := serviceSet(services, 1, backend)
		e.lastVIP = svcs[len(svcs)-1].ClusterIP.String() + ":80"
		for _, kind := range []string{"nft", "ipt"} {
			cli, err := e.ns(kind + "cli")
			if err != nil {
				return nil, err
			}
			srv, err := e.ns(kind + "srv")
			if err != nil {
				return nil, err
			}
			if err := link(cli, "v0", "10.0.0.2/24", srv, "v1", "10.0.0.1/24"); err != nil {
				return nil, err
			}
			if err := ipIn(cli, "route", "add", "172.30.0.0/15", "via", "10.0.0.1"); err != nil {
				return nil, err
			}
			stop, err := sink(srv, "10.0.0.1:8080")
			if err != nil {
				return nil, err
			}
			e.stops = append(e.stops, stop)
			if kind == "nft" {
				e.nftCli = cli
				p, err := newProxier(cli)
				if err != nil {
					return nil, err
				}
				err = p.Sync(svcs)
				p.Close()
				if err != nil {
					return nil, err
				}
			} else {
				e.iptCli = cli
				if err := iptablesServices(cli, svcs); err != nil {
					return nil, err
				}
			}
		}
		ok = true
		return e, nil
	}
}

// iptablesServices loads kube-proxy iptables-mode-shaped rules: one
// KUBE-SERVICES rule per Service (a linear walk), a chain per Service.
func iptablesServices(ns *netns.NS, svcs []proxy.Service) error {
	var b bytes.Buffer
	b.WriteString("*nat\n:OUTPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n")
	for i := range svcs {
		fmt.Fprintf(&b, ":KUBE-SVC-%d - [0:0]\n", i)
	}
	b.WriteString("-A OUTPUT -j KUBE-SERVICES\n")
	for i, s := range svcs {
		fmt.Fprintf(&b, "-A KUBE-SERVICES -d %s/32 -p tcp --dport %d -j KUBE-SVC-%d\n", s.ClusterIP, s.Port, i)
		fmt.Fprintf(&b, "-A KUBE-SVC-%d -p tcp -j DNAT --to-destination %s:%d\n", i, s.Endpoints[0].IP, s.Endpoints[0].Port)
	}
	b.WriteString("COMMIT\n")
	cmd := exec.Command("ip", "netns", "exec", nsName(ns), "iptables-restore")
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %w: %s", err, out)
	}
	return nil
}

func n1(id string, services int) Benchmark {
	const connects = 3000
	// The target is on what Service routing adds to a connect (flat and
	// ≤ 25 µs at 30k Services); the absolute connect time is mostly the
	// machine's namespace and veth path, the same without any NAT.
	var t50 Target
	if services >= 30000 {
		t50 = Target{"<=", 25}
	}
	return Benchmark{
		ID:    id,
		Title: fmt.Sprintf("First-packet latency to a ClusterIP, %d Services", services),
		Method: fmt.Sprintf("A client namespace routes 172.30.0.0/15 to a backend namespace over a veth pair. Our proxier\n"+
			"programs %d Services (one endpoint each); the client times %d TCP connects to the last Service's VIP\n"+
			"(SYN → SYN-ACK through DNAT). The same, in the same run, against kube-proxy-iptables-style rules\n"+
			"(one KUBE-SERVICES rule per Service, loaded with iptables-restore) in a second namespace pair, and\n"+
			"straight to the backend without NAT as the baseline. `sudo bin/kbench --only %s`", services, connects, id),
		Setup: n1Setup(services),
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			e := setup.(*n1Env)
			var out []Sample
			for _, c := range []struct {
				name   string
				ns     *netns.NS
				target string
			}{
				{"nftables", e.nftCli, e.lastVIP},
				{"iptables-style", e.iptCli, e.lastVIP},
				{"no-NAT baseline", e.nftCli, "10.0.0.1:8080"},
			} {
				lat, err := connectLatency(c.ns, c.target, connects)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.name, err)
				}
				out = append(out,
					Sample{Metric: c.name + " connect p50", Value: us(percentileD(lat, 50)), Unit: "µs"},
					Sample{Metric: c.name + " connect p99", Value: us(percentileD(lat, 99)), Unit: "µs"})
			}
			// What NAT adds over the plain connect, measured in the same run
			// (on a loaded machine the absolute figures mostly measure the load).
			out = append(out,
				Sample{Metric: "nftables p50 minus baseline p50", Value: out[0].Value - out[4].Value, Unit: "µs", Target: t50},
				Sample{Metric: "iptables-style p50 minus baseline p50", Value: out[2].Value - out[4].Value, Unit: "µs"})
			return out, nil
		},
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func percentileD(sorted []time.Duration, p float64) time.Duration {
	return time.Duration(percentile(sorted, p) * float64(time.Millisecond))
}

// n23Env is one namespace holding a 10k-Service table.
type n23Env struct {
	topo
	ns    *netns.NS
	p     *proxy.Proxier
	svcs  []proxy.Service
	round int // N2: each run changes ports to values not used before
}

func (e *n23Env) Close() error {
	if e.p != nil {
		e.p.Close()
	}
	return e.topo.Close()
}

func n23Setup(services, eps int) func(ctx context.Context, env *Env) (any, error) {
	return func(ctx context.Context, env *Env) (any, error) {
		if err := needRoot(); err != nil {
			return nil, err
		}
		e := &n23Env{svcs: serviceSet(services, eps, netip.Addr{})}
		var err error
		if e.ns, err = e.topo.ns("proxy"); err == nil {
			if e.p, err = newProxier(e.ns); err == nil {
				err = e.p.Sync(e.svcs)
			}
		}
		if err != nil {
			e.Close()
			return nil, err
		}
		return e, nil
	}
}

func n2() Benchmark {
	const changes = 200
	return Benchmark{
		ID:    "N2",
		Title: "Programming latency of one endpoint change, 10k Services",
		Method: fmt.Sprintf("A namespace holds our table for 10,000 Services with 4 endpoints each. %d times, one\n"+
			"endpoint of one Service changes (a new port: same number of endpoints) and the proxier applies it\n"+
			"(Update: diff of that Service's elements, one netlink transaction); latency until the transaction is\n"+
			"committed, p50 and p99, and the process CPU time (user + kernel) per change. Then %d changes of the\n"+
			"number of endpoints: alternately one Service gains a fifth endpoint and loses it again (the worst\n"+
			"case: the count 5 is in use by one Service at a time, so its pick rule comes and goes each time).\n"+
			"`sudo bin/kbench --only N2`", changes, changes),
		Setup: n23Setup(10000, 4),
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			e := setup.(*n23Env)
			e.round++
			same, err := timeChanges(e, changes, func(i int, s *proxy.Service) {
				s.Endpoints[0].Port = 10000 + uint16(e.round*changes+i)
			})
			if err != nil {
				return nil, err
			}
			count, err := timeChanges(e, changes, func(i int, s *proxy.Service) {
				if len(s.Endpoints) == 4 {
					extra := s.Endpoints[3]
					extra.IP = extra.IP.Next()
					s.Endpoints = append(s.Endpoints, extra)
				} else {
					s.Endpoints = s.Endpoints[:4]
				}
			})
			if err != nil {
				return nil, err
			}
			return []Sample{
				{Metric: "change p50", Value: percentile(same.lat, 50), Unit: "ms"},
				{Metric: "change p99", Value: percentile(same.lat, 99), Unit: "ms", Target: Target{"<=", 10}},
				{Metric: "CPU per change", Value: ms(same.cpu) / changes, Unit: "ms"},
				{Metric: "count change p50", Value: percentile(count.lat, 50), Unit: "ms"},
				{Metric: "count change p99", Value: percentile(count.lat, 99), Unit: "ms", Target: Target{"<=", 10}},
				{Metric: "CPU per count change", Value: ms(count.cpu) / changes, Unit: "ms"},
			}, nil
		},
	}
}

type changeTimes struct {
	lat []time.Duration // sorted
	cpu time.Duration
}

// timeChanges applies changes one-Service updates made by mutate, one at
// a time, and times each.
func timeChanges(e *n23Env, changes int, mutate func(i int, s *proxy.Service)) (changeTimes, error) {
	out := changeTimes{lat: make([]time.Duration, 0, changes)}
	cpu0 := cpuTime()
	for i := range changes {
		k := (i / 2 * 7919) % len(e.svcs) // the same Service twice in a row
		e.svcs[k].Endpoints = slices.Clone(e.svcs[k].Endpoints)
		mutate(i, &e.svcs[k])
		start := time.Now()
		if err := e.p.Update(e.svcs[k:k+1], nil); err != nil {
			return out, err
		}
		out.lat = append(out.lat, time.Since(start))
		if st := e.p.LastSync(); st.Full || st.Changed != 1 {
			return out, fmt.Errorf("change %d was not one incremental change: %+v", i, st)
		}
	}
	out.cpu = cpuTime() - cpu0
	slices.Sort(out.lat)
	return out, nil
}

func n3() Benchmark {
	return Benchmark{
		ID:    "N3",
		Title: "Full dataplane resync, 10k Services / 40k endpoints",
		Method: "A namespace holds our table for 10,000 Services with 4 endpoints each, as a kserver that\n" +
			"restarts finds it. A new proxier's first Sync reads the table, checks it has this version's layout\n" +
			"and compares every element with the desired state, sending only the difference (none here): the\n" +
			"restart resync. Then the table is deleted and a Sync builds it from nothing in one netlink\n" +
			"transaction: the cold build (first start, or a rebuild after drift). Wall time and process CPU\n" +
			"time (user + kernel) of each. `sudo bin/kbench --only N3`",
		Setup: n23Setup(10000, 4),
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			e := setup.(*n23Env)
			p, err := newProxier(e.ns)
			if err != nil {
				return nil, err
			}
			defer p.Close()
			cpu0, start := cpuTime(), time.Now()
			if err := p.Sync(e.svcs); err != nil {
				return nil, err
			}
			wall, cpu := time.Since(start), cpuTime()-cpu0
			if st := p.LastSync(); !st.Adopted || st.Ops != 0 {
				return nil, fmt.Errorf("restart did not take over the table unchanged: %+v", st)
			}
			if err := p.Cleanup(); err != nil {
				return nil, err
			}
			cpu1, start1 := cpuTime(), time.Now()
			if err := p.Sync(e.svcs); err != nil {
				return nil, err
			}
			coldWall, coldCPU := time.Since(start1), cpuTime()-cpu1
			if st := p.LastSync(); !st.Full || st.Adopted {
				return nil, fmt.Errorf("cold build was not a full sync: %+v", st)
			}
			return []Sample{
				{Metric: "restart resync", Value: ms(wall), Unit: "ms", Target: Target{"<=", 150}},
				{Metric: "restart resync CPU", Value: ms(cpu), Unit: "ms"},
				{Metric: "cold build", Value: ms(coldWall), Unit: "ms"},
				{Metric: "cold build CPU", Value: ms(coldCPU), Unit: "ms"},
			}, nil
		},
	}
}
