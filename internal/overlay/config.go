package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Backend selects how pod traffic crosses nodes (--flannel-backend).
type Backend string

// The backends.
const (
	VXLAN  Backend = "vxlan"
	HostGW Backend = "host-gw"
	None   Backend = "none"
)

// ChecksumOffload says what to do with the VXLAN device's TX checksum
// offload: "auto" switches it off on kernels with the NAT checksum bug
// (before 5.7), "off" always, "on" never.
type ChecksumOffload string

// Config is the overlay's configuration on one node.
type Config struct {
	Backend     Backend
	NodeIP      netip.Addr   // this node's underlay address (--node-ip); found from Iface when unset
	Iface       string       // uplink interface (--flannel-iface); found from NodeIP when unset
	PodCIDR     netip.Prefix // this node's podCIDR
	ClusterCIDR netip.Prefix // the whole pod network, for masquerade
	VNI         int          // default 1
	Port        int          // default 8472
	Device      string       // default "flannel.<VNI>"
	// VtepMAC is the MAC stored in the Node annotation; empty: keep the
	// existing device's, or generate one.
	VtepMAC         net.HardwareAddr
	ChecksumOffload ChecksumOffload // default "auto"
	// NoMasquerade turns pod egress masquerade off.
	NoMasquerade bool
	// MasqueradeBit is the Service proxy's mark bit (default 14).
	MasqueradeBit int
	// Table is our nftables table (default "kserver-overlay").
	Table string
	// NetNSFd programs the namespace with this file descriptor (tests).
	NetNSFd int
}

func (c *Config) defaults() {
	if c.Backend == "" {
		c.Backend = VXLAN
	}
	if c.VNI == 0 {
		c.VNI = 1
	}
	if c.Port == 0 {
		c.Port = 8472
	}
	if c.Device == "" {
		c.Device = fmt.Sprintf("flannel.%d", c.VNI)
	}
	if c.ChecksumOffload == "" {
		c.ChecksumOffload = "auto"
	}
	if c.MasqueradeBit == 0 {
		c.MasqueradeBit = 14
	}
	if c.Table == "" {
		c.Table = "kserver-overlay"
	}
}

// Validate reports a configuration the overlay cannot set up.
func (c Config) Validate() error {
	c.defaults()
	switch c.Backend {
	case VXLAN, HostGW, None:
	default:
		return fmt.Errorf("overlay: unknown backend %q (want vxlan, host-gw or none)", c.Backend)
	}
	if c.Backend == None {
		return nil
	}
	if !c.PodCIDR.IsValid() || !c.PodCIDR.Addr().Is4() {
		return errors.New("overlay: the node has no IPv4 podCIDR yet")
	}
	if !c.ClusterCIDR.IsValid() || !c.ClusterCIDR.Contains(c.PodCIDR.Addr()) {
		return fmt.Errorf("overlay: podCIDR %s is not inside the cluster CIDR %s", c.PodCIDR, c.ClusterCIDR)
	}
	if !c.NodeIP.IsValid() && c.Iface == "" {
		return errors.New("overlay: neither a node IP nor an uplink interface is set")
	}
	if c.NodeIP.IsValid() && !c.NodeIP.Is4() {
		return fmt.Errorf("overlay: node IP %s is not IPv4 (the IPv6 overlay is not implemented)", c.NodeIP)
	}
	if c.VNI < 1 || c.VNI > 1<<24-1 || c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("overlay: VNI %d or port %d out of range", c.VNI, c.Port)
	}
	if len(c.VtepMAC) != 0 && len(c.VtepMAC) != 6 {
		return fmt.Errorf("overlay: VTEP MAC %s is not an Ethernet address", c.VtepMAC)
	}
	switch c.ChecksumOffload {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("overlay: checksum offload %q (want auto, on or off)", c.ChecksumOffload)
	}
	return nil
}

// Peer is another node as the overlay needs it (from its Node object).
type Peer struct {
	Name     string
	PodCIDR  netip.Prefix
	PublicIP netip.Addr       // underlay address (flannel's public-ip annotation)
	VtepMAC  net.HardwareAddr // from the Node annotation; vxlan only
}

func (p Peer) validate(b Backend) error {
	if !p.PodCIDR.IsValid() || !p.PodCIDR.Addr().Is4() || !p.PublicIP.Is4() {
		return fmt.Errorf("overlay: peer %s has no IPv4 podCIDR or address", p.Name)
	}
	if b == VXLAN && len(p.VtepMAC) != 6 {
		return fmt.Errorf("overlay: peer %s has no VTEP MAC", p.Name)
	}
	return nil
}

// Local is what the caller publishes about this node: the VTEP MAC for
// the Node annotation, and the MTU for the CNI configuration.
type Local struct {
	VtepMAC  net.HardwareAddr
	MTU      int
	PublicIP netip.Addr
}
