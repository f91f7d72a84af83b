package overlay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/nft"
)

// encapOverhead is what VXLAN adds to each packet (outer IPv4 20, UDP 8,
// VXLAN 8, inner Ethernet 14), as flannel counts it.
const encapOverhead = 50

// routeProtocol marks the host-gw routes we own (a value from the
// unassigned range of rtnetlink protocols) so a restart finds them.
const routeProtocol = netlink.RouteProtocol(0x6b)

// Overlay programs one node's side of the pod network between nodes.
type Overlay struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	h      *netlink.Handle
	local  Local
	uplink netlink.Link
	mac    net.HardwareAddr // the VTEP MAC in use: kept when the device must be re-created
	peers  []Peer
	ready  bool
}

// New builds an overlay; nothing is changed before Setup.
func New(cfg Config, log *slog.Logger) (*Overlay, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Overlay{cfg: cfg, log: log.With("component", "overlay", "backend", string(cfg.Backend))}, nil
}

func (o *Overlay) handle() (*netlink.Handle, error) {
	if o.h != nil {
		return o.h, nil
	}
	var h *netlink.Handle
	var err error
	if o.cfg.NetNSFd > 0 {
		h, err = netlink.NewHandleAt(vnetns.NsHandle(o.cfg.NetNSFd))
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("overlay: netlink: %w", err)
	}
	o.h = h
	return h, nil
}

// Setup creates or reconciles the device and the masquerade table and
// returns what the caller publishes (VTEP MAC, MTU). It is idempotent: an
// existing, compatible device is kept as it is.
func (o *Overlay) Setup() (Local, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg.Backend == None {
		return Local{}, nil
	}
	h, err := o.handle()
	if err != nil {
		return Local{}, err
	}
	uplink, addr, err := o.findUplink(h)
	if err != nil {
		return Local{}, err
	}
	o.uplink = uplink
	o.local = Local{PublicIP: addr, MTU: uplink.Attrs().MTU}
	if err := o.enableForwarding(); err != nil {
		return Local{}, err
	}
	if o.cfg.Backend == VXLAN {
		dev, err := o.ensureDevice(h, uplink, addr)
		if err != nil {
			return Local{}, err
		}
		o.local.VtepMAC = dev.Attrs().HardwareAddr
		o.local.MTU = dev.Attrs().MTU
		o.mac = o.local.VtepMAC
	}
	if err := o.syncMasquerade(); err != nil {
		return Local{}, err
	}
	o.ready = true
	return o.local, nil
}

// Resync re-applies Setup and the last peers (a deleted device, flushed
// entries after a MAC change); Run calls it periodically.
func (o *Overlay) Resync() error {
	if _, err := o.Setup(); err != nil {
		return err
	}
	o.mu.Lock()
	peers := o.peers
	o.mu.Unlock()
	if peers == nil {
		return nil
	}
	return o.SetPeers(peers)
}

// findUplink finds the underlay interface and this node's address on it.
func (o *Overlay) findUplink(h *netlink.Handle) (netlink.Link, netip.Addr, error) {
	if o.cfg.Iface != "" {
		l, err := h.LinkByName(o.cfg.Iface)
		if err != nil {
			return nil, netip.Addr{}, fmt.Errorf("overlay: uplink %s: %w", o.cfg.Iface, err)
		}
		if o.cfg.NodeIP.IsValid() {
			return l, o.cfg.NodeIP, nil
		}
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil || len(addrs) == 0 {
			return nil, netip.Addr{}, fmt.Errorf("overlay: uplink %s has no IPv4 address", o.cfg.Iface)
		}
		a, _ := netip.AddrFromSlice(addrs[0].IP.To4())
		return l, a, nil
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("overlay: list addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && ip == o.cfg.NodeIP {
			l, err := h.LinkByIndex(a.LinkIndex)
			if err != nil {
				return nil, netip.Addr{}, fmt.Errorf("overlay: uplink of %s: %w", o.cfg.NodeIP, err)
			}
			return l, ip, nil
		}
	}
	return nil, netip.Addr{}, fmt.Errorf("overlay: no interface has the node IP %s (set --flannel-iface)", o.cfg.NodeIP)
}

func (o *Overlay) enableForwarding() error {
	write := func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	}
	var err error
	if o.cfg.NetNSFd > 0 {
		err = inNetNS(o.cfg.NetNSFd, write)
	} else {
		err = write()
	}
	if err != nil {
		return fmt.Errorf("overlay: enable IPv4 forwarding: %w", err)
	}
	return nil
}

// ensureDevice keeps a compatible existing VXLAN device (a restart must
// not disturb traffic) and re-creates an incompatible one.
func (o *Overlay) ensureDevice(h *netlink.Handle, uplink netlink.Link, local netip.Addr) (netlink.Link, error) {
	mtu := uplink.Attrs().MTU - encapOverhead
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: o.cfg.Device, MTU: mtu},
		VxlanId:      o.cfg.VNI,
		VtepDevIndex: uplink.Attrs().Index,
		SrcAddr:      net.IP(local.AsSlice()),
		Port:         o.cfg.Port,
		Learning:     false,
	}
	mac := o.cfg.VtepMAC
	if len(mac) == 0 {
		mac = o.mac
	}
	existing, err := h.LinkByName(o.cfg.Device)
	if err == nil {
		if v, ok := existing.(*netlink.Vxlan); ok && compatible(v, want) {
			if len(mac) == 0 {
				mac = v.HardwareAddr // keep the MAC the peers know
			}
			return o.adjust(h, existing, mac, mtu)
		}
		o.log.Info("re-creating incompatible overlay device", "device", o.cfg.Device)
		if err := h.LinkDel(existing); err != nil {
			return nil, fmt.Errorf("overlay: delete %s: %w", o.cfg.Device, err)
		}
	}
	if len(mac) == 0 {
		mac = newMAC()
	}
	want.HardwareAddr = mac
	if err := h.LinkAdd(want); err != nil {
		return nil, fmt.Errorf("overlay: create %s: %w", o.cfg.Device, err)
	}
	l, err := h.LinkByName(o.cfg.Device)
	if err != nil {
		return nil, fmt.Errorf("overlay: %s: %w", o.cfg.Device, err)
	}
	return o.adjust(h, l, mac, mtu)
}

func compatible(have, want *netlink.Vxlan) bool {
	return have.VxlanId == want.VxlanId && have.VtepDevIndex == want.VtepDevIndex &&
		have.SrcAddr.Equal(want.SrcAddr) && have.Port == want.Port && !have.Learning
}

// adjust brings an existing device to the desired MAC, MTU, address and
// state, touching only what differs.
func (o *Overlay) adjust(h *netlink.Handle, l netlink.Link, mac net.HardwareAddr, mtu int) (netlink.Link, error) {
	a := l.Attrs()
	if a.HardwareAddr.String() != mac.String() {
		if err := h.LinkSetHardwareAddr(l, mac); err != nil {
			return nil, fmt.Errorf("overlay: set VTEP MAC: %w", err)
		}
	}
	if a.MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return nil, fmt.Errorf("overlay: set MTU: %w", err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(o.cfg.PodCIDR.Masked().Addr().AsSlice()), Mask: net.CIDRMask(32, 32)}}
	addrs, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("overlay: list addresses of %s: %w", o.cfg.Device, err)
	}
	found := false
	for _, x := range addrs {
		if x.IPNet.String() == addr.IPNet.String() {
			found = true
			continue
		}
		if err := h.AddrDel(l, &x); err != nil {
			return nil, fmt.Errorf("overlay: remove stale address %s: %w", x.IPNet, err)
		}
	}
	if !found {
		if err := h.AddrAdd(l, addr); err != nil {
			return nil, fmt.Errorf("overlay: address %s: %w", addr.IPNet, err)
		}
	}
	if err := o.checksumOffload(a.Name); err != nil {
		return nil, err
	}
	if err := h.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("overlay: %s up: %w", o.cfg.Device, err)
	}
	return h.LinkByIndex(a.Index)
}

// newMAC makes a random, locally administered unicast MAC.
func newMAC() net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	_, _ = rand.Read(m)
	m[0] = (m[0] | 0x02) &^ 0x01
	return m
}

// Teardown removes everything the overlay made: peers' routes, the
// device and our nftables table. Removing what is gone is not an error.
func (o *Overlay) Teardown() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg.Backend == None {
		return nil
	}
	h, err := o.handle()
	if err != nil {
		return err
	}
	var errs []error
	if o.cfg.Backend == HostGW {
		errs = append(errs, o.reconcileHostGW(h, nil))
	}
	if l, err := h.LinkByName(o.cfg.Device); err == nil {
		if err := h.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("overlay: delete %s: %w", o.cfg.Device, err))
		}
	}
	c, err := nft.Dial(o.cfg.NetNSFd)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	defer c.Close()
	errs = append(errs, c.DeleteTable(o.cfg.Table, nft.IPv4))
	o.ready, o.peers = false, nil
	return errors.Join(errs...)
}

// Close releases the netlink handle.
func (o *Overlay) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.h != nil {
		o.h.Close()
		o.h = nil
	}
}

// Run calls Resync every period until ctx ends.
func (o *Overlay) Run(ctx context.Context, period time.Duration) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := o.Resync(); err != nil {
				o.log.Error("overlay resync failed", "err", err)
			}
		}
	}
}

func kernelBefore(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma < major || (ma == major && mi < minor)
}

// PodMTU is the MTU pod interfaces get with cfg: the uplink's MTU, less
// the VXLAN encapsulation for that backend (0 for none: the CNI plugin's
// default). It needs only the uplink (cfg.NodeIP or cfg.Iface), not the
// podCIDR, so the pod network can be configured before the overlay.
func PodMTU(cfg Config) (int, error) {
	cfg.defaults()
	if cfg.Backend == None {
		return 0, nil
	}
	o := &Overlay{cfg: cfg}
	h, err := o.handle()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	l, _, err := o.findUplink(h)
	if err != nil {
		return 0, err
	}
	mtu := l.Attrs().MTU
	if cfg.Backend == VXLAN {
		mtu -= encapOverhead
	}
	return mtu, nil
}
