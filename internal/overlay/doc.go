// Package overlay connects the pod networks of the nodes, flannel style.
//
// The agent gives it this node's podCIDR and underlay address and, as the
// Node list changes, the desired peers (their podCIDR, underlay address
// and VTEP MAC from the Node annotation). It never talks to the API.
//
// Backend vxlan (the default): one device "flannel.1" (VNI 1, UDP 8472,
// MTU = uplink MTU − 50, address <podCIDR network>/32, learning off) and,
// per remote node, exactly one route (podCIDR via <peer podCIDR network>
// onlink), one permanent ARP entry (that address → peer VTEP MAC) and one
// FDB entry (peer VTEP MAC → peer underlay address). The kernel never has
// to learn or miss anything. The VTEP MAC is kept stable: the caller
// persists it in the Node annotation and hands it back; without one the
// existing device's MAC is kept, and only a first start generates one.
// A restart reconciles the existing device in place, so traffic goes on.
//
// Backend host-gw: plain routes (podCIDR via the peer's underlay address)
// for nodes on one L2 segment, marked with our own route protocol so a
// restart finds them. Backend none: nothing (bring your own CNI).
//
// Pod egress to outside the cluster network is masqueraded in our own
// nftables table "kserver-overlay", except traffic the Service proxy
// already marked for masquerade (bit 0x4000, the contract kube-proxy and
// flannel share).
//
// Kernels before 5.7 corrupt the outer UDP checksum of VXLAN packets that
// were NATed while the device offloads checksums (k3s#2013, flannel#1279);
// there TX checksum offload of flannel.1 is switched off, as flannel's
// troubleshooting guide recommends, and on every other kernel it is kept
// (or switched back) on. See docs/overlay.md.
package overlay
