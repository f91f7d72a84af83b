package netpol

import (
	"fmt"
	"net/netip"

	"kserver.dev/kserver/internal/nft"
)

// Policy is one NetworkPolicy resolved for this node.
type Policy struct {
	Namespace, Name string
	// Pods are the addresses of this node's pods the podSelector selects.
	Pods []netip.Addr
	// Ingress and Egress say which directions the policy isolates
	// (policyTypes); a direction with no rules denies everything.
	Ingress, Egress bool
	IngressRules    []Rule
	EgressRules     []Rule
}

// Rule is one ingress "from" or egress "to" rule.
type Rule struct {
	// Peers: empty means every address (the rule has no from/to).
	Peers []Peer
	// Ports: empty means every port and protocol.
	Ports []Port
}

// Peer is one entry of from/to: resolved pod addresses, or an ipBlock.
type Peer struct {
	IPs    []netip.Addr // pods matched by podSelector/namespaceSelector
	CIDR   netip.Prefix // ipBlock.cidr
	Except []netip.Prefix
}

// Port is one entry of ports: Port 0 means every port of the protocol;
// EndPort > Port makes a range.
type Port struct {
	Protocol nft.Protocol
	Port     uint16
	EndPort  uint16
}

// Key names the policy: "namespace/name".
func (p *Policy) Key() string { return p.Namespace + "/" + p.Name }

func (p *Policy) validate(f nft.Family) error {
	if p.Namespace == "" || p.Name == "" {
		return fmt.Errorf("netpol: policy without namespace or name")
	}
	for _, a := range p.Pods {
		if !a.IsValid() {
			return fmt.Errorf("netpol: policy %s: invalid pod address", p.Key())
		}
	}
	for _, rules := range [][]Rule{p.IngressRules, p.EgressRules} {
		for _, r := range rules {
			for _, pt := range r.Ports {
				if pt.Protocol != nft.TCP && pt.Protocol != nft.UDP && pt.Protocol != nft.SCTP {
					return fmt.Errorf("netpol: policy %s: unsupported protocol %d", p.Key(), pt.Protocol)
				}
				if pt.EndPort != 0 && (pt.Port == 0 || pt.EndPort < pt.Port) {
					return fmt.Errorf("netpol: policy %s: bad port range %d-%d", p.Key(), pt.Port, pt.EndPort)
				}
			}
			for _, peer := range r.Peers {
				for _, e := range peer.Except {
					if !peer.CIDR.IsValid() || !peer.CIDR.Contains(e.Addr()) || e.Bits() < peer.CIDR.Bits() {
						return fmt.Errorf("netpol: policy %s: except %s is not inside %s", p.Key(), e, peer.CIDR)
					}
				}
			}
		}
	}
	return nil
}
