package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/overlay"
)

// n4Env is two pairs of nodes, each pair joined by an underlay veth pair,
// each node with a bridge and one pod: one pair connected by our VXLAN
// overlay, the other by our host-gw routes (the same pod plumbing without
// encapsulation). Stream sinks listen in both pods B and in VXLAN node B.
type n4Env struct {
	topo
	vxlanPod, hostGWPod, node *netns.NS
	overlays                  []*overlay.Overlay
	stops                     []func()
	runs                      int
}

func (e *n4Env) Close() error {
	for _, s := range e.stops {
		s()
	}
	for _, o := range e.overlays {
		o.Close()
	}
	return e.topo.Close()
}

// nodeWithPod makes a node namespace with bridge cni0 (gw/24) and one pod
// (podIP/24, MTU mtu) on it.
func (e *n4Env) nodeWithPod(role, gw, podIP string, mtu int) (node, pod *netns.NS, err error) {
	if node, err = e.ns("node" + role); err != nil {
		return nil, nil, err
	}
	if pod, err = e.ns("pod" + role); err != nil {
		return nil, nil, err
	}
	err = ipAll(node,
		[]string{"link", "add", "cni0", "type", "bridge"},
		[]string{"addr", "add", gw + "/24", "dev", "cni0"},
		[]string{"link", "set", "cni0", "up"},
		[]string{"link", "add", "veth0", "mtu", fmt.Sprint(mtu), "type", "veth", "peer", "name", "eth0", "netns", nsName(pod)},
		[]string{"link", "set", "veth0", "master", "cni0", "up"})
	if err == nil {
		err = ipAll(pod,
			[]string{"link", "set", "eth0", "mtu", fmt.Sprint(mtu)},
			[]string{"addr", "add", podIP + "/24", "dev", "eth0"},
			[]string{"link", "set", "eth0", "up"},
			[]string{"route", "add", "default", "via", gw})
	}
	return node, pod, err
}

// n4Pair is one pair of nodes as pair builds it.
type n4Pair struct {
	nodeA, nodeB, podA, podB *netns.NS
}

// pair builds nodes a and b (pods 10.42.0.2 and 10.42.1.2, MTU mtu) joined
// by an underlay veth pair (192.168.<net>.1 and .2, MTU 1500) and
// connected by our overlay with backend.
func (e *n4Env) pair(a, b string, net int, backend overlay.Backend, mtu int) (n4Pair, error) {
	var p n4Pair
	var err error
	if p.nodeA, p.podA, err = e.nodeWithPod(a, "10.42.0.1", "10.42.0.2", mtu); err != nil {
		return p, err
	}
	if p.nodeB, p.podB, err = e.nodeWithPod(b, "10.42.1.1", "10.42.1.2", mtu); err != nil {
		return p, err
	}
	ipA, ipB := fmt.Sprintf("192.168.%d.1", net), fmt.Sprintf("192.168.%d.2", net)
	if err := link(p.nodeA, "ul0", ipA+"/24", p.nodeB, "ul0", ipB+"/24"); err != nil {
		return p, err
	}
	nodes := []struct {
		ns   *netns.NS
		ip   string
		cidr string
	}{{p.nodeA, ipA, "10.42.0.0/24"}, {p.nodeB, ipB, "10.42.1.0/24"}}
	var peers []overlay.Peer
	var made []*overlay.Overlay
	for _, n := range nodes {
		o, err := overlay.New(overlay.Config{Backend: backend, NodeIP: netip.MustParseAddr(n.ip), PodCIDR: netip.MustParsePrefix(n.cidr),
			ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16"), NetNSFd: n.ns.Fd()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return p, err
		}
		e.overlays = append(e.overlays, o)
		made = append(made, o)
		l, err := o.Setup()
		if err != nil {
			return p, err
		}
		peers = append(peers, overlay.Peer{Name: n.ip, PodCIDR: netip.MustParsePrefix(n.cidr), PublicIP: netip.MustParseAddr(n.ip), VtepMAC: l.VtepMAC})
	}
	for _, o := range made {
		if err := o.SetPeers(peers); err != nil {
			return p, err
		}
	}
	return p, nil
}

func n4Setup(ctx context.Context, env *Env) (any, error) {
	if err := needRoot(); err != nil {
		return nil, err
	}
	e := &n4Env{}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	vx, err := e.pair("a", "b", 250, overlay.VXLAN, 1450)
	if err != nil {
		return nil, err
	}
	// Same pod MTU as over VXLAN, so that the two pod paths differ only by
	// the encapsulation.
	gw, err := e.pair("c", "d", 251, overlay.HostGW, 1450)
	if err != nil {
		return nil, err
	}
	e.vxlanPod, e.hostGWPod, e.node = vx.podA, gw.podA, vx.nodeA
	for _, s := range []struct {
		ns   *netns.NS
		addr string
	}{{vx.podB, "10.42.1.2:5201"}, {vx.nodeB, "192.168.250.2:5202"}, {gw.podB, "10.42.1.2:5201"}} {
		stop, err := sink(s.ns, s.addr)
		if err != nil {
			return nil, err
		}
		e.stops = append(e.stops, stop)
	}
	ok = true
	return e, nil
}

func n4() Benchmark {
	const d = 3 * time.Second
	return Benchmark{
		ID:    "N4",
		Title: "Pod-to-pod throughput over VXLAN vs the underlay",
		Method: fmt.Sprintf("Two node namespaces joined by a veth underlay (MTU 1500), each with cni0, one pod (MTU\n"+
			"1450) and our VXLAN overlay (flannel.1, MTU 1450). One TCP stream for %s pod A → pod B across the\n"+
			"overlay, then node A → node B on the underlay, in the same run; goodput and their ratio. For\n"+
			"reference, the same pod plumbing (MTU 1450) on a second pair of nodes joined by our host-gw routes:\n"+
			"pod → pod without encapsulation. The order of the streams rotates from run to run.\n"+
			"Everything shares one kernel, so this measures encapsulation cost, not a wire.\n"+
			"`sudo bin/kbench --only N4`", d),
		Setup: n4Setup,
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			e := setup.(*n4Env)
			streams := []struct {
				name   string
				from   *netns.NS
				target string
				gbps   float64
			}{
				{name: "overlay", from: e.vxlanPod, target: "10.42.1.2:5201"},
				{name: "underlay", from: e.node, target: "192.168.250.2:5202"},
				{name: "host-gw", from: e.hostGWPod, target: "10.42.1.2:5201"},
			}
			first := e.runs % len(streams)
			e.runs++
			for i := range streams {
				s := &streams[(first+i)%len(streams)]
				var err error
				if s.gbps, err = stream(s.from, s.target, d); err != nil {
					return nil, fmt.Errorf("%s stream: %w", s.name, err)
				}
			}
			over, under, hostGW := streams[0].gbps, streams[1].gbps, streams[2].gbps
			return []Sample{
				{Metric: "VXLAN pod-to-pod goodput", Value: over, Unit: "Gbit/s"},
				{Metric: "underlay goodput", Value: under, Unit: "Gbit/s"},
				{Metric: "VXLAN / underlay", Value: 100 * over / under, Unit: "%", Target: Target{">=", 90}},
				{Metric: "host-gw pod-to-pod goodput (no encapsulation)", Value: hostGW, Unit: "Gbit/s"},
				{Metric: "host-gw / underlay", Value: 100 * hostGW / under, Unit: "%"},
			}, nil
		},
	}
}
