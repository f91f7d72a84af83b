package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SetPeers makes the per-peer entries match peers (all other nodes; this
// node, recognised by its podCIDR, is skipped): missing entries are added,
// changed ones replaced, entries of removed peers deleted.
func (o *Overlay) SetPeers(peers []Peer) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg.Backend == None {
		return nil
	}
	if !o.ready {
		return errors.New("overlay: SetPeers before Setup")
	}
	var remote []Peer
	for _, p := range peers {
		if p.PodCIDR.Masked() == o.cfg.PodCIDR.Masked() {
			continue
		}
		if err := p.validate(o.cfg.Backend); err != nil {
			return err
		}
		remote = append(remote, p)
	}
	h, err := o.handle()
	if err != nil {
		return err
	}
	if o.cfg.Backend == HostGW {
		err = o.reconcileHostGW(h, remote)
	} else {
		err = o.reconcileVXLAN(h, remote)
	}
	if err == nil {
		o.peers = append([]Peer(nil), peers...)
	}
	return err
}

func ipnet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func gateway(p Peer) net.IP { return net.IP(p.PodCIDR.Masked().Addr().AsSlice()) }

// reconcileVXLAN keeps one route, one ARP and one FDB entry per peer.
// Entries are added ARP, FDB, route (the kernel would ARP for the gateway
// of a route that came first) and removed in the opposite order.
func (o *Overlay) reconcileVXLAN(h *netlink.Handle, peers []Peer) error {
	dev, err := h.LinkByName(o.cfg.Device)
	if err != nil {
		return fmt.Errorf("overlay: %s: %w", o.cfg.Device, err)
	}
	idx := dev.Attrs().Index
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{LinkIndex: idx}, netlink.RT_FILTER_OIF)
	if err != nil {
		return fmt.Errorf("overlay: list routes: %w", err)
	}
	arps, err := h.NeighList(idx, unix.AF_INET)
	if err != nil {
		return fmt.Errorf("overlay: list ARP entries: %w", err)
	}
	fdbs, err := h.NeighList(idx, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("overlay: list FDB entries: %w", err)
	}
	wantRoute, wantARP, wantFDB := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var errs []error
	for _, p := range peers {
		arp := &netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, Type: unix.RTN_UNICAST,
			IP: gateway(p), HardwareAddr: p.VtepMAC}
		fdb := &netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF, State: netlink.NUD_PERMANENT,
			IP: net.IP(p.PublicIP.AsSlice()), HardwareAddr: p.VtepMAC}
		route := &netlink.Route{LinkIndex: idx, Dst: ipnet(p.PodCIDR), Gw: gateway(p), Flags: int(netlink.FLAG_ONLINK)}
		wantARP[arp.IP.String()], wantFDB[fdbKey(fdb)], wantRoute[route.Dst.String()] = true, true, true
		if !hasNeigh(arps, arp, false) {
			errs = append(errs, wrap("ARP entry", p, h.NeighSet(arp)))
		}
		if !hasNeigh(fdbs, fdb, true) {
			errs = append(errs, wrap("FDB entry", p, h.NeighSet(fdb)))
		}
		if !hasRoute(routes, route) {
			errs = append(errs, wrap("route", p, h.RouteReplace(route)))
		}
	}
	for _, r := range routes {
		if r.Dst != nil && !wantRoute[r.Dst.String()] && r.Gw != nil {
			errs = append(errs, ignoreGone(h.RouteDel(&r)))
		}
	}
	for _, n := range arps {
		if !wantARP[n.IP.String()] {
			errs = append(errs, ignoreGone(h.NeighDel(&n)))
		}
	}
	for _, n := range fdbs {
		if n.IP != nil && n.IP.To4() != nil && !wantFDB[fdbKey(&n)] {
			n.Family, n.Flags = unix.AF_BRIDGE, netlink.NTF_SELF
			errs = append(errs, ignoreGone(h.NeighDel(&n)))
		}
	}
	return errors.Join(errs...)
}

func fdbKey(n *netlink.Neigh) string { return n.HardwareAddr.String() + "@" + n.IP.String() }

func hasNeigh(have []netlink.Neigh, want *netlink.Neigh, fdb bool) bool {
	for _, n := range have {
		if !n.IP.Equal(want.IP) || n.HardwareAddr.String() != want.HardwareAddr.String() {
			continue
		}
		if fdb || n.State&netlink.NUD_PERMANENT != 0 {
			return true
		}
	}
	return false
}

func hasRoute(have []netlink.Route, want *netlink.Route) bool {
	for _, r := range have {
		if r.Dst != nil && r.Dst.String() == want.Dst.String() && r.Gw.Equal(want.Gw) && r.LinkIndex == want.LinkIndex {
			return true
		}
	}
	return false
}

// reconcileHostGW keeps one route per peer via its underlay address.
func (o *Overlay) reconcileHostGW(h *netlink.Handle, peers []Peer) error {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("overlay: list routes: %w", err)
	}
	want := map[string]bool{}
	var errs []error
	for _, p := range peers {
		r := &netlink.Route{Dst: ipnet(p.PodCIDR), Gw: net.IP(p.PublicIP.AsSlice()), Protocol: routeProtocol}
		if o.uplink != nil {
			r.LinkIndex = o.uplink.Attrs().Index
		}
		want[r.Dst.String()] = true
		if !hasRoute(routes, r) {
			errs = append(errs, wrap("route", p, h.RouteReplace(r)))
		}
	}
	for _, r := range routes {
		if r.Dst != nil && !want[r.Dst.String()] {
			errs = append(errs, ignoreGone(h.RouteDel(&r)))
		}
	}
	return errors.Join(errs...)
}

func wrap(what string, p Peer, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("overlay: %s for peer %s (%s): %w", what, p.Name, p.PodCIDR, err)
}

func ignoreGone(err error) error {
	if err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return fmt.Errorf("overlay: remove stale entry: %w", err)
}
