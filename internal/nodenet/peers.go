package nodenet

import (
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/overlay"
)

// The Node annotations flannel (and so k3s) uses for each node's side of
// the overlay; kserver writes and reads the same keys.
const (
	AnnotationBackendData = "flannel.alpha.coreos.com/backend-data"
	AnnotationBackendType = "flannel.alpha.coreos.com/backend-type"
	AnnotationSubnetMgr   = "flannel.alpha.coreos.com/kube-subnet-manager"
	AnnotationPublicIP    = "flannel.alpha.coreos.com/public-ip"
)

// backendData is the JSON of the backend-data annotation.
type backendData struct {
	VNI     int    `json:"VNI,omitempty"`
	VtepMAC string `json:"VtepMAC,omitempty"`
}

// Annotations are what a node publishes about its side of the overlay.
func Annotations(backend overlay.Backend, local overlay.Local, vni int) map[string]string {
	a := map[string]string{
		AnnotationBackendType: string(backend),
		AnnotationSubnetMgr:   "true",
		AnnotationPublicIP:    local.PublicIP.String(),
	}
	bd := backendData{}
	if backend == overlay.VXLAN {
		bd = backendData{VNI: vni, VtepMAC: local.VtepMAC.String()}
	}
	b, _ := json.Marshal(bd)
	a[AnnotationBackendData] = string(b)
	return a
}

// VtepMAC reads the VTEP MAC a node published (nil when none).
func VtepMAC(n *corev1.Node) net.HardwareAddr {
	var bd backendData
	if err := json.Unmarshal([]byte(n.Annotations[AnnotationBackendData]), &bd); err != nil {
		return nil
	}
	mac, err := net.ParseMAC(bd.VtepMAC)
	if err != nil || len(mac) != 6 {
		return nil
	}
	return mac
}

// PodCIDR is a node's IPv4 podCIDR.
func PodCIDR(n *corev1.Node) (netip.Prefix, bool) {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is4() {
			return p.Masked(), true
		}
	}
	return netip.Prefix{}, false
}

// Peers are the other nodes as the overlay needs them: podCIDR, underlay
// address (the public-ip annotation, else the InternalIP) and, for vxlan,
// the VTEP MAC. Nodes that have not published their side yet (no podCIDR,
// no address, no MAC for vxlan) are left out until they do.
func Peers(nodes []*corev1.Node, self string, backend overlay.Backend) []overlay.Peer {
	var out []overlay.Peer
	for _, n := range nodes {
		if n.Name == self || n.DeletionTimestamp != nil {
			continue
		}
		cidr, ok := PodCIDR(n)
		if !ok {
			continue
		}
		ip, err := netip.ParseAddr(n.Annotations[AnnotationPublicIP])
		if err != nil {
			ip = internalIP(n)
		}
		if !ip.Is4() {
			continue
		}
		p := overlay.Peer{Name: n.Name, PodCIDR: cidr, PublicIP: ip}
		if backend == overlay.VXLAN {
			if p.VtepMAC = VtepMAC(n); p.VtepMAC == nil {
				continue
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b overlay.Peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func internalIP(n *corev1.Node) netip.Addr {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
				return ip
			}
		}
	}
	return netip.Addr{}
}
