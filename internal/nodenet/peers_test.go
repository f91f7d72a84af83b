package nodenet

import (
	"net"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/overlay"
)

func TestAnnotationsAndPeers(t *testing.T) {
	mac, _ := net.ParseMAC("8a:2c:11:00:00:01")
	ann := Annotations(overlay.VXLAN, overlay.Local{VtepMAC: mac, PublicIP: netip.MustParseAddr("192.168.1.11")}, 1)
	if ann[AnnotationBackendData] != `{"VNI":1,"VtepMAC":"8a:2c:11:00:00:01"}` || ann[AnnotationPublicIP] != "192.168.1.11" ||
		ann[AnnotationBackendType] != "vxlan" || ann[AnnotationSubnetMgr] != "true" {
		t.Fatalf("annotations: %v", ann)
	}
	node := func(name, cidr string, ann map[string]string, ip string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
		if ip != "" {
			n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
		}
		return n
	}
	nodes := []*corev1.Node{
		node("self", "10.42.0.0/24", ann, "192.168.1.10"),
		node("b", "10.42.2.0/24", ann, "192.168.1.99"), // public-ip annotation wins over InternalIP
		node("a", "10.42.1.0/24", map[string]string{AnnotationBackendData: `{"VNI":1,"VtepMAC":"8a:2c:11:00:00:02"}`}, "192.168.1.12"),
		node("no-cidr", "", ann, "192.168.1.13"),
		node("no-mac", "10.42.3.0/24", nil, "192.168.1.14"),
	}
	got := Peers(nodes, "self", overlay.VXLAN)
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Fatalf("vxlan peers: %+v", got)
	}
	if got[0].PublicIP != netip.MustParseAddr("192.168.1.12") || got[0].VtepMAC.String() != "8a:2c:11:00:00:02" ||
		got[1].PublicIP != netip.MustParseAddr("192.168.1.11") || got[1].PodCIDR != netip.MustParsePrefix("10.42.2.0/24") {
		t.Errorf("vxlan peers: %+v", got)
	}
	// host-gw needs no MAC: the node without one is a peer too.
	if got := Peers(nodes, "self", overlay.HostGW); len(got) != 3 {
		t.Errorf("host-gw peers: %+v", got)
	}
	if VtepMAC(nodes[4]) != nil {
		t.Error("a node without the annotation has no VTEP MAC")
	}
}
