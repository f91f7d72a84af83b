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

// n4Env is two nodes joined by an underlay veth pair, each with a bridge,
// one pod and the VXLAN overlay, and stream sinks in pod B and node B.
type n4Env struct {
	topo
	nodeA, podA *netns.NS
	overlays    []*overlay.Overlay
	stops       []func()
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
	nodeA, podA, err := e.nodeWithPod("a", "10.42.0.1", "10.42.0.2", 1450)
	if err != nil {
		return nil, err
	}
	nodeB, podB, err := e.nodeWithPod("b", "10.42.1.1", "10.42.1.2", 1450)
	if err != nil {
		return nil, err
	}
	e.nodeA, e.podA = nodeA, podA
	if err := link(nodeA, "ul0", "192.168.250.1/24", nodeB, "ul0", "192.168.250.2/24"); err != nil {
		return nil, err
	}
	nodes := []struct {
		ns   *netns.NS
		ip   string
		cidr string
	}{{nodeA, "192.168.250.1", "10.42.0.0/24"}, {nodeB, "192.168.250.2", "10.42.1.0/24"}}
	var peers []overlay.Peer
	for _, n := range nodes {
		o, err := overlay.New(overlay.Config{NodeIP: netip.MustParseAddr(n.ip), PodCIDR: netip.MustParsePrefix(n.cidr),
			ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16"), NetNSFd: n.ns.Fd()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return nil, err
		}
		e.overlays = append(e.overlays, o)
		l, err := o.Setup()
		if err != nil {
			return nil, err
		}
		peers = append(peers, overlay.Peer{Name: n.ip, PodCIDR: netip.MustParsePrefix(n.cidr), PublicIP: netip.MustParseAddr(n.ip), VtepMAC: l.VtepMAC})
	}
	for _, o := range e.overlays {
		if err := o.SetPeers(peers); err != nil {
			return nil, err
		}
	}
	for _, s := range []struct {
		ns   *netns.NS
		addr string
	}{{podB, "10.42.1.2:5201"}, {nodeB, "192.168.250.2:5202"}} {
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
			"overlay, then node A → node B on the underlay, in the same run; goodput and their ratio.\n"+
			"Everything shares one kernel, so this measures encapsulation cost, not a wire.\n"+
			"`sudo bin/kbench --only N4`", d),
		Setup: n4Setup,
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			e := setup.(*n4Env)
			over, err := stream(e.podA, "10.42.1.2:5201", d)
			if err != nil {
				return nil, fmt.Errorf("overlay stream: %w", err)
			}
			under, err := stream(e.nodeA, "192.168.250.2:5202", d)
			if err != nil {
				return nil, fmt.Errorf("underlay stream: %w", err)
			}
			return []Sample{
				{Metric: "VXLAN pod-to-pod goodput", Value: over, Unit: "Gbit/s"},
				{Metric: "underlay goodput", Value: under, Unit: "Gbit/s"},
				{Metric: "VXLAN / underlay", Value: 100 * over / under, Unit: "%", Target: Target{">=", 90}},
			}, nil
		},
	}
}
