package server

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// nodeAddress is --node-ip, or else the first global IPv4 address of the
// interface holding the default route, or else of any interface, or else
// loopback. It only reads kernel tables; no packet is sent.
func nodeAddress(flag string) netip.Addr {
	if a, err := netip.ParseAddr(flag); err == nil {
		return a.Unmap()
	}
	if ifname := defaultRouteInterface(); ifname != "" {
		if ifc, err := net.InterfaceByName(ifname); err == nil {
			if a, ok := globalIPv4(ifc); ok {
				return a
			}
		}
	}
	ifcs, _ := net.Interfaces()
	for i := range ifcs {
		if ifcs[i].Flags&net.FlagLoopback != 0 || ifcs[i].Flags&net.FlagUp == 0 {
			continue
		}
		if a, ok := globalIPv4(&ifcs[i]); ok {
			return a
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

func globalIPv4(ifc *net.Interface) (netip.Addr, bool) {
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip, ok := netip.AddrFromSlice(n.IP); ok {
			ip = ip.Unmap()
			if ip.Is4() && ip.IsGlobalUnicast() {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// defaultRouteInterface reads /proc/net/route for the IPv4 default route.
func defaultRouteInterface() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 2 && fields[1] == "00000000" && fields[0] != "Iface" {
			return fields[0]
		}
	}
	return ""
}

// externalIPProblems describes each unusable --node-external-ip value: it
// must be a unicast address clients outside the cluster can reach.
func externalIPProblems(vals []string) []string {
	var out []string
	for _, v := range vals {
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%q is not an IP address", v))
		case a.IsUnspecified(), a.IsLoopback(), a.IsMulticast(), a.IsLinkLocalUnicast():
			out = append(out, fmt.Sprintf("%q is not an address other machines reach this node at (unspecified, loopback, multicast or link-local)", v))
		}
	}
	return out
}

// externalIPs parses validated --node-external-ip values.
func externalIPs(vals []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range vals {
		if a, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil && !slices.Contains(out, a.Unmap()) {
			out = append(out, a.Unmap())
		}
	}
	return out
}
